// Hive Gateway (supergraph file given on its command line), doing what our
// router does: the client's Authorization (a header over HTTP, the
// connection_init payload over WebSocket) goes to every subgraph, and
// subscriptions go to the subgraphs' /ws over graphql-transport-ws.
import { defineConfig, type WSTransportOptions } from "@graphql-hive/gateway";

export const gatewayConfig = defineConfig({
  plugins: () => [
    {
      onContextBuilding({ context, extendContext }) {
        const params = (context as { connectionParams?: Record<string, unknown> }).connectionParams ?? {};
        const fromSocket = params.Authorization ?? params.authorization;
        const authorization =
          typeof fromSocket === "string" ? fromSocket : (context.request?.headers?.get("authorization") ?? "");
        extendContext({ authorization } as never);
      },
    },
  ],
  transportEntries: {
    "*.http": {
      headers: [["authorization", "{context.authorization}"]],
      options: {
        subscriptions: {
          kind: "ws",
          location: "/ws",
          // One upstream socket per user and subgraph, as Hive Router's.
          options: { connectionParams: { Authorization: "{context.authorization}" } } satisfies WSTransportOptions,
        },
      },
    },
  },
  graphiql: false,
  logging: "warn",
});
