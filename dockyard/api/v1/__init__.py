"""Generated gRPC and protobuf code for the dockyard.v1 wire contract. Do not edit."""
