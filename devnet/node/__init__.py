"""The chain node: geth (default, BSC profile) or anvil (fast tier), as a managed process."""

from devnet.node.node import NodeHandle, NodeInfo, start_node

__all__ = ["NodeHandle", "NodeInfo", "start_node"]
