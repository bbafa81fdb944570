// Browsers have no HTTP/2 client API that can speak gRPC: "grpc" is for Node only.

import type { Transport } from "@connectrpc/connect";

export function grpcTransport(_baseUrl: string): { transport: Transport; close: () => void } {
  throw new Error('transport "grpc" needs Node (HTTP/2); use "grpc-web" in a browser');
}
