"""The consensus side of the geth node: what a beacon client (on BSC: Parlia) does for it.

geth runs without `--dev`; this package drives its Engine API (JWT-authenticated) and stands
in front of its JSON-RPC:

- `beacon`: seals blocks on demand or on a whole-second cadence, sets `safe` = head - 1 and
  `finalized` = head - 2 (configurable) like BSC's fast finality, and injects reorgs of
  depth N through fork choice.
- `front`: the node's public JSON-RPC. Forwards to geth; answers BSC's own read methods
  (`eth_getFinalizedHeader`, ...) and the devnet's control methods (`devnet_mine`,
  `devnet_reorg`, `devnet_finality`); wakes the beacon when a transaction arrives.
- `__main__`: runs geth as its child and both of the above, as one node process.
"""
