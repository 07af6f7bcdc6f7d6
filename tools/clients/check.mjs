// The real client libraries of both APIs log in against a running social-login stack, used the
// way an app uses them: Syncano's JS library (`syncano`, v1) and Rocket.Chat's JS SDK
// (`@rocket.chat/sdk`, its REST `api` module). Run by scripts/clients-check, which starts the
// local stack, configures the custom provider and mints the tokens.
//
//   node check.mjs   (settings from the environment, all required:)
//     CLIENTS_BASE_URL        the gateway, e.g. http://127.0.0.1:3000
//     CLIENTS_API_KEY         the instance's client API key (Syncano X-API-KEY)
//     CLIENTS_INSTANCE        the instance (also the Rocket.Chat default instance)
//     CLIENTS_FACEBOOK_TOKEN  a Facebook access token of a person
//     CLIENTS_OIDC_NAME       the custom provider's name (Syncano backend oidc-NAME)
//     CLIENTS_OIDC_TOKEN_SYNCANO, CLIENTS_OIDC_TOKEN_RC
//                             one ID token of that provider for each login
//     CLIENTS_NONCE           the raw nonce the ID tokens were minted for
//
//   With CLIENTS_BASE_URL_B (a second region of `local-stack --regions 2`; CLIENTS_BASE_URL is
//   the first, A) it runs the two-region steps instead: the libraries alternate between the
//   regions as a client whose DNS answer changed does (issue 33). Rocket.Chat: login in A (the
//   person's first), me in B, login again in B (returning), logout in B, me refused in A at once.
//   Syncano: login in A, the user through its user key in B, an admin's key reset in B, the old
//   key refused in A at once and the new one accepted there, an admin's deletion in B, the key
//   refused in A at once. It needs, beyond the above (CLIENTS_FACEBOOK_TOKEN unused):
//     CLIENTS_ADMIN_API_KEY   the instance's admin API key (ignore_acl: key reset, deletion)
//     CLIENTS_OIDC_TOKEN_RC_B one more ID token, for the returning login in B
//
// Prints one line per step (what the library sent, the HTTP status it got) and exits non-zero if
// any step failed. No token or key is printed.

import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`clients: ${name} is required`);
    process.exit(2);
  }
  return value;
};
const BASE = env("CLIENTS_BASE_URL").replace(/\/+$/, "");
const BASE_B = (process.env.CLIENTS_BASE_URL_B || "").replace(/\/+$/, "");
const API_KEY = env("CLIENTS_API_KEY");
const INSTANCE = env("CLIENTS_INSTANCE");
const FACEBOOK_TOKEN = BASE_B ? "" : env("CLIENTS_FACEBOOK_TOKEN");
const OIDC_NAME = env("CLIENTS_OIDC_NAME");
const OIDC_TOKEN_SYNCANO = env("CLIENTS_OIDC_TOKEN_SYNCANO");
const OIDC_TOKEN_RC = env("CLIENTS_OIDC_TOKEN_RC");
const NONCE = env("CLIENTS_NONCE");

// The HTTP exchanges the libraries make, seen from below them (both sit on node:http): method,
// path and status, for the step lines. Observation only: nothing is changed on the way.
const exchanges = [];
const originalRequest = http.request;
http.request = function request(...args) {
  const req = originalRequest.apply(this, args);
  const entry = { method: req.method, path: req.path, status: null, body: "" };
  exchanges.push(entry);
  req.on("response", (res) => {
    entry.status = res.statusCode;
    res.on("data", (chunk) => {
      if (entry.body.length < 2000) entry.body += chunk;
    });
  });
  return req;
};

let failures = 0;
let passed = 0;
const seen = () => exchanges.length;
// What the library sent and got since `from`: "POST /path -> 200".
const wire = (from) =>
  exchanges
    .slice(from)
    .map((e) => `${e.method} ${e.path} -> ${e.status ?? "no answer"}`)
    .join(", ") || "no request";
// The answer bodies since `from`, for a failure line, credentials masked (a success that failed
// a check carries a user key or an auth token).
const masked = (body) =>
  body.replace(/"(user_key|authToken|access_token|accessToken|id_token|token)"(\s*:\s*)"[^"]*"/g, '"$1"$2"(masked)"');
const bodies = (from) =>
  exchanges
    .slice(from)
    .map((e) => `${e.status}: ${masked(e.body.slice(0, 400))}`)
    .join(" | ");

async function step(library, name, fn) {
  const from = seen();
  const started = Date.now();
  try {
    const note = await fn();
    const failed = exchanges.slice(from).find((e) => e.status === null || e.status >= 400);
    if (failed) throw new Error(`an answer of ${failed.status ?? "none"}`);
    passed += 1;
    console.log(`ok    ${library}: ${name}: ${wire(from)} (${Date.now() - started} ms)${note ? ` ${note}` : ""}`);
  } catch (err) {
    failures += 1;
    const why = err instanceof Error ? err.message : JSON.stringify(err);
    console.log(`FAIL  ${library}: ${name}: ${wire(from)}: ${why}`);
    if (exchanges.length > from) console.log(`      answers: ${bodies(from)}`);
  }
}

// A step whose one request must be refused with `status`, and the library must tell the app so
// (`fn` resolves with what the app saw, or "accepted").
async function refusal(library, name, status, fn) {
  const from = seen();
  let saw;
  try {
    saw = await fn();
  } catch (err) {
    saw = `error: ${err instanceof Error ? err.message : JSON.stringify(err)}`;
  }
  const got = exchanges.slice(from).map((e) => e.status);
  if (got.length === 1 && got[0] === status && saw !== "accepted" && !saw.startsWith("error: ")) {
    passed += 1;
    console.log(`ok    ${library}: ${name}: ${wire(from)} (refused; the app sees ${saw})`);
  } else {
    failures += 1;
    console.log(`FAIL  ${library}: ${name}: ${wire(from)}: wanted one ${status}, the app sees ${saw}`);
    if (exchanges.length > from) console.log(`      answers: ${bodies(from)}`);
  }
}

const must = (cond, what) => {
  if (!cond) throw new Error(what);
};

// ---- Syncano's JS library, as its docs show it ---------------------------------------------------
async function syncano() {
  const Syncano = require("syncano");
  // The library's own setting for the server: `baseUrl` (default https://api.syncano.io).
  const connection = Syncano({ apiKey: API_KEY, baseUrl: BASE });
  const backends = [
    ["facebook", { access_token: FACEBOOK_TOKEN }],
    [`oidc-${OIDC_NAME}`, { access_token: OIDC_TOKEN_SYNCANO, nonce: NONCE }],
  ];
  for (const [backend, credentials] of backends) {
    connection.setUserKey(null);
    let user;
    await step("syncano", `User.please().socialLogin({backend: "${backend}"})`, async () => {
      // A query set's then(callback) drops a rejection handler (`await` on it alone would never
      // settle on an error): its promise is awaited, as an app's `.then(cb).catch(err)` uses it.
      user = await connection.User.please()
        .socialLogin({ instanceName: INSTANCE, backend }, credentials)
        .then((answer) => answer);
      must(user && typeof user.user_key === "string" && user.user_key.length > 0, "no user_key in the answer");
      must(Number.isInteger(user.id), "no integer id in the answer");
      return `(user ${user.id}, ${user.username})`;
    });
    if (!user) continue;
    // What an app does next: keep the user key, then read the user through it (with an API key
    // and a user key and no account key the library's get() calls GET user/).
    connection.setUserKey(user.user_key);
    await step("syncano", `User.please().get() with the user key (${backend} user)`, async () => {
      const me = await connection.User.please()
        .get({ instanceName: INSTANCE })
        .then((answer) => answer);
      must(me && me.id === user.id, `another user: ${me && me.id}`);
      must(me.username === user.username, "another username");
      return `(user ${me.id})`;
    });
  }
  // A refused login reaches the app as the library's RequestError: status and Syncano's detail.
  connection.setUserKey(null);
  await refusal("syncano", 'User.please().socialLogin({backend: "facebook"}) with a token nobody issued', 401, () =>
    connection.User.please()
      .socialLogin({ instanceName: INSTANCE, backend: "facebook" }, { access_token: "EAAnotIssuedByFacebook0123" })
      .then((answer) => answer)
      .then(
        () => "accepted",
        (err) => {
          must(err && err.status === 401, `not the library's 401 RequestError: ${err && err.status}`);
          must(typeof err.message === "string" && err.message.length > 0, "no message from the detail");
          return `RequestError ${err.status} "${err.message}"`;
        },
      ),
  );
}

// ---- Rocket.Chat's JS SDK, its REST api module -----------------------------------------------------
async function rocketchat() {
  // The SDK's own setting for the server: ROCKETCHAT_URL, read when it is loaded.
  process.env.ROCKETCHAT_URL = BASE;
  const sdk = require("@rocket.chat/sdk");
  // Its logger prints every request body (the tokens): silenced.
  require("@rocket.chat/sdk/dist/lib/log").silence();
  const { api } = sdk;
  const logins = [
    ["facebook", { serviceName: "facebook", accessToken: FACEBOOK_TOKEN, expiresIn: 3600 }],
    [OIDC_NAME, { serviceName: OIDC_NAME, accessToken: OIDC_TOKEN_RC, expiresIn: 3600, nonce: NONCE }],
  ];
  for (const [service, credentials] of logins) {
    // api.login(credentials) posts the object as given to login and keeps the authToken and
    // userId of the answer for the calls after (its default is username/password).
    let session;
    await step("rocket.chat", `api.login({serviceName: "${service}"})`, async () => {
      session = await api.login(credentials);
      must(session && session.status === "success", "no success");
      must(session.data && session.data.authToken && session.data.userId, "no authToken/userId");
      must(api.loggedIn(), "the SDK does not consider itself logged in");
      return `(user ${session.data.userId}, ${session.data.me && session.data.me.username})`;
    });
    if (!session) continue;
    await step("rocket.chat", `api.get("me") (${service} user)`, async () => {
      const me = await api.get("me");
      must(me, "the SDK got no answer it accepts (it logs and returns undefined)");
      must(me._id === session.data.userId, `another user: ${me._id}`);
      return `(user ${me._id}, ${me.username})`;
    });
    await step("rocket.chat", `api.logout() (${service} user)`, async () => {
      await api.logout();
      must(!api.loggedIn(), "still logged in");
    });
    // The token is dead after the logout: a client that kept it is refused.
    const from = seen();
    api.setAuth({ authToken: session.data.authToken, userId: session.data.userId });
    api.currentLogin = { username: undefined, authToken: session.data.authToken, userId: session.data.userId };
    const after = await api.get("me");
    api.currentLogin = null;
    api.clearHeaders();
    const status = exchanges[from] && exchanges[from].status;
    if (after === undefined && status === 401) {
      passed += 1;
      console.log(`ok    rocket.chat: api.get("me") after the logout: ${wire(from)} (refused, as it must be)`);
    } else {
      failures += 1;
      console.log(`FAIL  rocket.chat: api.get("me") after the logout: ${wire(from)}: not refused with 401`);
    }
  }
  // A refused login: the SDK's login throws, and it is not logged in.
  await refusal("rocket.chat", 'api.login({serviceName: "facebook"}) with a token nobody issued', 401, () =>
    api.login({ serviceName: "facebook", accessToken: "EAAnotIssuedByFacebook0123", expiresIn: 3600 }).then(
      () => "accepted",
      (err) => {
        must(!api.loggedIn(), "logged in after a refusal");
        return `login threw "${err instanceof Error ? err.message : err}"`;
      },
    ),
  );
}

// ---- Two regions (issue 33): the libraries alternate between A and B --------------------------------
async function rocketchatRegions() {
  const A = `${BASE}/api/v1/`;
  const B = `${BASE_B}/api/v1/`;
  process.env.ROCKETCHAT_URL = BASE;
  const sdk = require("@rocket.chat/sdk");
  require("@rocket.chat/sdk/dist/lib/log").silence();
  const { api } = sdk;
  // The SDK reads its server from `api.url` at each call: setting it is how an app (or its DNS
  // answer) moves to the other region.
  const region = (url) => {
    api.url = url;
  };
  const credentials = (accessToken) => ({ serviceName: OIDC_NAME, accessToken, expiresIn: 3600, nonce: NONCE });
  let first;
  region(A);
  await step("rocket.chat", `api.login({serviceName: "${OIDC_NAME}"}) in A (first login)`, async () => {
    first = await api.login(credentials(OIDC_TOKEN_RC));
    must(first && first.status === "success" && first.data && first.data.userId, "no session");
    return `(user ${first.data.userId})`;
  });
  if (!first) return;
  region(B);
  await step("rocket.chat", 'api.get("me") in B with the session made in A', async () => {
    const me = await api.get("me");
    must(me && me._id === first.data.userId, `not the user: ${me && me._id}`);
    return `(user ${me._id})`;
  });
  // The app starts again (its kept login gone, the session from A not ended; api.login would
  // otherwise answer from its cache without a request) and signs in in B.
  api.currentLogin = null;
  api.clearHeaders();
  let again;
  await step("rocket.chat", `api.login({serviceName: "${OIDC_NAME}"}) in B (returning)`, async () => {
    again = await api.login(credentials(env("CLIENTS_OIDC_TOKEN_RC_B")));
    must(again && again.status === "success", "no success");
    must(again.data.userId === first.data.userId, `another user: ${again.data.userId}`);
    must(again.data.authToken !== first.data.authToken, "the session from A again");
    return `(user ${again.data.userId}, the same)`;
  });
  if (!again) return;
  await step("rocket.chat", "api.logout() in B", async () => {
    await api.logout();
    must(!api.loggedIn(), "still logged in");
  });
  // At once, in the other region: the session logged out in B is refused in A.
  region(A);
  const from = seen();
  api.setAuth({ authToken: again.data.authToken, userId: again.data.userId });
  api.currentLogin = { username: undefined, authToken: again.data.authToken, userId: again.data.userId };
  const after = await api.get("me");
  api.currentLogin = null;
  api.clearHeaders();
  const status = exchanges[from] && exchanges[from].status;
  if (after === undefined && status === 401) {
    passed += 1;
    console.log(`ok    rocket.chat: api.get("me") in A right after the logout in B: ${wire(from)} (refused)`);
  } else {
    failures += 1;
    console.log(`FAIL  rocket.chat: api.get("me") in A right after the logout in B: ${wire(from)}: not refused with 401`);
  }
}

async function syncanoRegions() {
  const Syncano = require("syncano");
  const inA = Syncano({ apiKey: API_KEY, baseUrl: BASE });
  const inB = Syncano({ apiKey: API_KEY, baseUrl: BASE_B });
  const adminB = Syncano({ apiKey: env("CLIENTS_ADMIN_API_KEY"), baseUrl: BASE_B });
  const backend = `oidc-${OIDC_NAME}`;
  let user;
  await step("syncano", `User.please().socialLogin({backend: "${backend}"}) in A`, async () => {
    user = await inA.User.please()
      .socialLogin({ instanceName: INSTANCE, backend }, { access_token: OIDC_TOKEN_SYNCANO, nonce: NONCE })
      .then((answer) => answer);
    must(user && typeof user.user_key === "string" && Number.isInteger(user.id), "no user");
    return `(user ${user.id})`;
  });
  if (!user) return;
  const getIn = (connection, key) => {
    connection.setUserKey(key);
    return connection.User.please()
      .get({ instanceName: INSTANCE })
      .then((answer) => answer);
  };
  // The key refused in A: the library's RequestError with Syncano's 403.
  const refusedInA = (name, key) =>
    refusal("syncano", name, 403, () =>
      getIn(inA, key).then(
        () => "accepted",
        (err) => {
          must(err && err.status === 403, `not the library's 403 RequestError: ${err && err.status}`);
          return `RequestError ${err.status}`;
        },
      ),
    );
  await step("syncano", "User.please().get() in B with the user key made in A", async () => {
    const me = await getIn(inB, user.user_key);
    must(me && me.id === user.id, `another user: ${me && me.id}`);
    return `(user ${me.id})`;
  });
  let reset;
  await step("syncano", "User.please().resetKey({id}) in B (admin key)", async () => {
    reset = await adminB.User.please()
      .resetKey({ instanceName: INSTANCE, id: user.id })
      .then((answer) => answer);
    must(reset && typeof reset.user_key === "string" && reset.user_key !== user.user_key, "no new user_key");
    return `(user ${reset.id})`;
  });
  if (!reset) return;
  await refusedInA("User.please().get() in A with the key reset in B", user.user_key);
  await step("syncano", "User.please().get() in A with the new key", async () => {
    const me = await getIn(inA, reset.user_key);
    must(me && me.id === user.id, `another user: ${me && me.id}`);
  });
  await step("syncano", "User.please().delete({id}) in B (admin key)", async () => {
    await adminB.User.please()
      .delete({ instanceName: INSTANCE, id: user.id })
      .then((answer) => answer);
  });
  await refusedInA("User.please().get() in A with the key of the user deleted in B", reset.user_key);
}

const started = Date.now();
if (BASE_B) {
  // Rocket.Chat first: its login in A is the person's first; Syncano's deletion ends the run.
  await rocketchatRegions();
  await syncanoRegions();
} else {
  await syncano();
  await rocketchat();
}
console.log(`clients: the libraries took ${Date.now() - started} ms`);
// The closing line, alone: the plain count a CI log reader takes.
console.log(`clients: ${passed} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
