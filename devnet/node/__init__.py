"""The chain node: geth (default, BSC profile), anvil (fast tier) or bsc (the BSC client), as a
managed process."""

from devnet.node.node import NodeHandle, NodeInfo, start_node

__all__ = ["NodeHandle", "NodeInfo", "start_node"]
