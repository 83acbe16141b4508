// Hive Gateway: the supergraph file from SUPERGRAPH, the client's
// Authorization forwarded to every subgraph (what our router does).
import { defineConfig } from "@graphql-hive/gateway";

export const gatewayConfig = defineConfig({
  supergraph: process.env.SUPERGRAPH,
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get("authorization") ?? "" }),
  },
  graphiql: false,
  logging: "warn",
});
