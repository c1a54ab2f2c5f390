"""The bsc engine: bnb-chain/bsc (the real BSC client: Parlia, BLS fast finality, 450 ms
blocks) as the validator of a chain of its own.

- `module/`: the Go tools module that pins bsc and builds it (`devnet tools install`);
- `genesis.py`: the genesis, made by code from the profile and the pinned bsc module;
- `keys.py`: the validator's consensus and BLS vote keys;
- `node.py`: its datadir (`init_bsc_datadir`) and command line (`bsc_argv`).
"""
