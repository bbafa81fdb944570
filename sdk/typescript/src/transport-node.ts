// The "grpc" transport: gRPC over HTTP/2 (h2c for http:// URLs) with connect-node.
// Reached through the "#grpc-transport" import, which browsers resolve to
// transport-web.ts instead, so a browser bundle never pulls in node:http2.

import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

export function grpcTransport(baseUrl: string): { transport: Transport; close: () => void } {
  const sessionManager = new Http2SessionManager(baseUrl);
  return {
    transport: createGrpcTransport({ baseUrl, sessionManager }),
    close: () => sessionManager.abort(),
  };
}
