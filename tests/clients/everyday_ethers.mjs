// An everyday ethers v6 wallet against a node: what a dapp, a payment backend or an exchange
// wallet does, written the ordinary way, with nonces, gas and fees left to ethers.
//
//   node tests/clients/everyday_ethers.mjs --rpc URL --token ADDR \
//     --sender KEY --recipient ADDR --owner KEY --spender KEY --holder KEY --relayer KEY \
//     --payee ADDR [--cycles 200] [--cache-timeout MS] [--polling-interval MS] ...
//
// 1. `cycles` send -> wait -> send cycles from `sender` to `recipient`: even cycles a native
//    transfer (`wallet.sendTransaction`), odd ones a token `transfer`, each
//    `await (await ...).wait()`. After each receipt, the node's `pending` reads are compared
//    with the receipt's block: the pending nonce, the recipient's pending balance (native and
//    token, the latter by `eth_call`), `eth_estimateGas` on pending state, and the pending
//    block's number must all have caught up with it.
// 2. EIP-2612: `owner` signs a `Permit` with `signTypedData` (domain read from the token's
//    ERC-5267 `eip712Domain()`); `spender` submits `permit` and then `transferFrom`.
// 3. EIP-3009: `holder` signs a `TransferWithAuthorization` to `payee`; `relayer` submits it.
// 4. The `finalized` and `safe` tags, read every 10 cycles: finalized <= safe <= latest, and
//    each only moves forward.
//
// Prints one JSON summary on stdout. Exit code 0 whenever the summary could be produced
// (failures are in it); 2 for bad arguments.
//
// About `--cache-timeout`: ethers' providers answer an identical read from a 250 ms cache
// (`cacheTimeout`, ethers' own default). A node that confirms in less than that (an anvil with
// automine, a devnet sealing on demand, and on a fast chain a transaction sent just before a
// block) makes the next `sendTransaction` reuse the nonce it read before the previous one and
// fail with "nonce has already been used"; and `wait()` can be handed the cached "no receipt
// yet", then wait for the block after the one holding the transaction (on a chain sealing on
// demand, that block only comes with another transaction). `-1` turns the cache off; ethers'
// maintainers advise it for such nodes (ethers-io/ethers.js#4549, #5165).

import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { ethers } from "ethers";

const TOKEN_ABI = [
  "function transfer(address to, uint256 value) returns (bool)",
  "function transferFrom(address from, address to, uint256 value) returns (bool)",
  "function balanceOf(address who) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function nonces(address owner) view returns (uint256)",
  "function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
];

const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

const AUTHORIZATION_TYPES = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
};

function options() {
  const spec = {
    rpc: { type: "string" },
    token: { type: "string" },
    sender: { type: "string" },
    recipient: { type: "string" },
    owner: { type: "string" },
    spender: { type: "string" },
    holder: { type: "string" },
    relayer: { type: "string" },
    payee: { type: "string" },
    cycles: { type: "string", default: "200" },
    "native-value": { type: "string", default: "1000" },
    "token-value": { type: "string", default: "1" },
    "permit-value": { type: "string", default: "50" },
    "permit-spend": { type: "string", default: "20" },
    "authorization-value": { type: "string", default: "7" },
    "wait-timeout": { type: "string", default: "30000" },
    "cache-timeout": { type: "string" },
    "polling-interval": { type: "string" },
    // "next": the pending block is the one after the receipt's (geth, anvil); "latest": the node
    // answers `pending` with its latest block, as bnb-chain/bsc does.
    "pending-block": { type: "string", default: "next" },
  };
  const { values } = parseArgs({ options: spec, strict: true });
  const required = ["rpc", "token", "sender", "recipient", "owner", "spender", "holder", "relayer", "payee"];
  const missing = required.filter((name) => !values[name]);
  if (missing.length) {
    throw new Error(`missing --${missing.join(", --")}`);
  }
  return values;
}

function message(error) {
  return String(error?.shortMessage ?? error?.message ?? error);
}

async function main() {
  let args;
  try {
    args = options();
  } catch (error) {
    console.error(`everyday_ethers: ${message(error)}`);
    process.exit(2);
  }
  // Only what the caller names differs from ethers' defaults.
  const providerOptions = {};
  if (args["cache-timeout"] !== undefined) providerOptions.cacheTimeout = Number(args["cache-timeout"]);
  if (args["polling-interval"] !== undefined) providerOptions.pollingInterval = Number(args["polling-interval"]);
  const provider = new ethers.JsonRpcProvider(args.rpc, undefined, providerOptions);
  const wallet = (key) => new ethers.Wallet(key, provider);
  const sender = wallet(args.sender);
  const owner = wallet(args.owner);
  const spender = wallet(args.spender);
  const holder = wallet(args.holder);
  const relayer = wallet(args.relayer);
  const token = new ethers.Contract(args.token, TOKEN_ABI, provider);
  const cycles = Number(args.cycles);
  // A receipt not seen within this is a failure of its cycle, not a hang of the whole run.
  const waitTimeout = Number(args["wait-timeout"]);

  const summary = {
    ethers: ethers.version,
    providerOptions,
    chainId: Number((await provider.getNetwork()).chainId),
    cycles,
    sent: { native: 0, token: 0 },
    failures: [],
    pendingLags: [],
    cycleMs: [],
    tags: [],
    permit: null,
    authorization: null,
  };
  const fail = (step, error, extra = {}) => summary.failures.push({ step, message: message(error), ...extra });

  // `provider.send` goes to the node as it is: no cache, whatever `cacheTimeout` says.
  const raw = (method, params) => provider.send(method, params);
  const tags = async (cycle) => {
    // Read in this order, each tag only moving forward: finalized <= safe <= latest holds.
    const finalized = await provider.getBlock("finalized");
    const safe = await provider.getBlock("safe");
    const latest = await provider.getBlock("latest");
    summary.tags.push({ cycle, finalized: finalized?.number ?? null, safe: safe?.number ?? null, latest: latest.number });
  };

  // One batch of reads right after a receipt: each `pending` answer must be at least what the
  // receipt's block holds. The recipient only receives, so the block's state is a lower bound.
  const balanceOf = token.interface.encodeFunctionData("balanceOf", [args.recipient]);
  const pendingChecks = async (cycle, receipt) => {
    const at = ethers.toQuantity(receipt.blockNumber);
    const lag = (read, pending, atReceipt) =>
      summary.pendingLags.push({ cycle, read, pending: String(pending), atReceipt: String(atReceipt) });
    // Spending every token the recipient has been sent only estimates if pending state has them.
    const tokensSent = BigInt(summary.sent.token) * BigInt(args["token-value"]);
    const spendAll = token.interface.encodeFunctionData("transfer", [sender.address, tokensSent]);
    const estimate = tokensSent === 0n
      ? Promise.resolve(null)
      : raw("eth_estimateGas", [{ from: args.recipient, to: args.token, data: spendAll }, "pending"]).then(
          () => null,
          (error) => message(error),
        );
    const [nonceNow, nonceAt, balanceNow, balanceAt, tokensNow, tokensAt, block, refused] = await Promise.all([
      raw("eth_getTransactionCount", [sender.address, "pending"]),
      raw("eth_getTransactionCount", [sender.address, at]),
      raw("eth_getBalance", [args.recipient, "pending"]),
      raw("eth_getBalance", [args.recipient, at]),
      raw("eth_call", [{ to: args.token, data: balanceOf }, "pending"]),
      raw("eth_call", [{ to: args.token, data: balanceOf }, at]),
      raw("eth_getBlockByNumber", ["pending", false]),
      estimate,
    ]);
    if (BigInt(nonceNow) < BigInt(nonceAt)) lag("eth_getTransactionCount", nonceNow, nonceAt);
    if (BigInt(balanceNow) < BigInt(balanceAt)) lag("eth_getBalance", balanceNow, balanceAt);
    if (BigInt(tokensNow) < BigInt(tokensAt)) lag("eth_call", tokensNow, tokensAt);
    if (refused !== null) lag("eth_estimateGas", refused, tokensSent);
    const pendingNumber = block ? BigInt(block.number) : -1n;
    const behind = args["pending-block"] === "latest"
      ? pendingNumber < BigInt(receipt.blockNumber)
      : pendingNumber <= BigInt(receipt.blockNumber);
    if (behind) lag("eth_getBlockByNumber", pendingNumber, receipt.blockNumber);
  };

  // ---- 1. send -> wait -> send, nonces left to ethers ---------------------------------------
  const asSender = token.connect(sender);
  await tags(0);
  for (let cycle = 1; cycle <= cycles; cycle++) {
    const native = cycle % 2 === 1;
    const started = performance.now();
    let receipt;
    try {
      const response = native
        ? await sender.sendTransaction({ to: args.recipient, value: BigInt(args["native-value"]) })
        : await asSender.transfer(args.recipient, BigInt(args["token-value"]));
      receipt = await response.wait(1, waitTimeout);
      summary.cycleMs.push(Math.round((performance.now() - started) * 100) / 100);
      summary.sent[native ? "native" : "token"] += 1;
    } catch (error) {
      fail("cycle", error, { cycle });
      continue;
    }
    try {
      await pendingChecks(cycle, receipt);
    } catch (error) {
      fail("pending reads", error, { cycle });
    }
    if (cycle % 10 === 0 || cycle === cycles) {
      try {
        await tags(cycle);
      } catch (error) {
        fail("tags", error, { cycle });
      }
    }
  }

  const now = async () => (await provider.getBlock("latest")).timestamp;
  let domain;
  try {
    const d = await token.eip712Domain();
    domain = { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract };
  } catch (error) {
    fail("eip712Domain", error);
  }

  // ---- 2. EIP-2612 permit, signed with signTypedData, used by the spender --------------------
  if (domain) {
    try {
      const value = BigInt(args["permit-value"]);
      const spend = BigInt(args["permit-spend"]);
      const nonce = await token.nonces(owner.address);
      const deadline = BigInt(await now()) + 3600n;
      const signature = ethers.Signature.from(
        await owner.signTypedData(domain, PERMIT_TYPES, { owner: owner.address, spender: spender.address, value, nonce, deadline }),
      );
      const asSpender = token.connect(spender);
      const permit = await (await asSpender.permit(owner.address, spender.address, value, deadline, signature.v, signature.r, signature.s)).wait(1, waitTimeout);
      const spent = await (await asSpender.transferFrom(owner.address, spender.address, spend)).wait(1, waitTimeout);
      summary.permit = {
        owner: owner.address,
        spender: spender.address,
        value: String(value),
        spent: String(spend),
        nonceSigned: String(nonce),
        permitTx: permit.hash,
        transferFromTx: spent.hash,
      };
    } catch (error) {
      fail("permit", error);
    }
  }

  // ---- 3. EIP-3009 transferWithAuthorization, signed with signTypedData, relayed -------------
  if (domain) {
    try {
      const value = BigInt(args["authorization-value"]);
      const nonce = ethers.hexlify(ethers.randomBytes(32));
      const validBefore = BigInt(await now()) + 3600n;
      const message_ = { from: holder.address, to: args.payee, value, validAfter: 0n, validBefore, nonce };
      const signature = ethers.Signature.from(await holder.signTypedData(domain, AUTHORIZATION_TYPES, message_));
      const relayed = await (
        await token.connect(relayer).transferWithAuthorization(
          holder.address, args.payee, value, 0n, validBefore, nonce, signature.v, signature.r, signature.s,
        )
      ).wait(1, waitTimeout);
      summary.authorization = { holder: holder.address, payee: args.payee, value: String(value), nonce, tx: relayed.hash };
    } catch (error) {
      fail("transferWithAuthorization", error);
    }
  }

  try {
    await tags(cycles + 1);
  } catch (error) {
    fail("tags", error);
  }
  provider.destroy();
  console.log(JSON.stringify(summary));
}

await main();
