// Hive Gateway (supergraph file given on its command line), the client's
// Authorization forwarded to every subgraph (what our router does).
import { defineConfig } from "@graphql-hive/gateway";

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get("authorization") ?? "" }),
  },
  graphiql: false,
  logging: "warn",
});
