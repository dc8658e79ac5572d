// Preloaded into the harness's Budibase server (node --require): every TCP listen in the process binds
// 127.0.0.1. Budibase calls listen(PORT) with no address, which is every interface, and has no setting for
// the address; on a shared machine its API must not be reachable from the network.
"use strict";
const dns = require("dns");
const net = require("net");
const listen = net.Server.prototype.listen;
const LOOPBACK = "127.0.0.1";

net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (first === undefined || typeof first === "function") {
    args.unshift(0, LOOPBACK); // listen() or listen(callback): a random port, on every interface
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    if (typeof args[1] === "string") {
      args[1] = LOOPBACK;
    } else {
      args.splice(1, 0, LOOPBACK); // listen(port[, backlog][, callback])
    }
  } else if (first && typeof first === "object" && first.path === undefined && first.fd === undefined &&
             first._handle === undefined && first.handle === undefined) {
    args[0] = { ...first, host: LOOPBACK }; // listen({port, ...}); a socket path or a handle is left alone
  } else {
    return listen.apply(this, args);
  }
  // Node looks an address up before it binds, even 127.0.0.1, so the bind would come a tick later; Budibase
  // reads server.address() straight after listen(). That one lookup answers at once: the bind stays synchronous.
  const lookup = dns.lookup;
  dns.lookup = (host, options, callback) => (options && options.all
    ? callback(null, [{ address: LOOPBACK, family: 4 }])
    : (callback || options)(null, LOOPBACK, 4));
  try {
    return listen.apply(this, args);
  } finally {
    dns.lookup = lookup;
  }
};
