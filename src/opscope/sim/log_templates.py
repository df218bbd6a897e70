"""Message templates of the shop's logs. ``{name}`` fields are filled per line.

The templates imitate what such services really print (access lines, ORM timings,
driver and pool errors, runtime exceptions), so that template mining and log anomaly
detection have realistic material: stable text with variable ids, numbers and addresses.
"""

from __future__ import annotations

from opscope.sim.faults import FaultKind

ENDPOINTS: dict[str, list[tuple[str, str]]] = {
    "gateway": [("GET", "/api/products/{sku}"), ("GET", "/"), ("POST", "/api/cart/items"),
                ("GET", "/api/search"), ("POST", "/api/checkout")],
    "frontend": [("GET", "/product/{sku}"), ("GET", "/"), ("GET", "/cart"),
                 ("GET", "/search")],
    "cart": [("GET", "/carts/{cart}"), ("POST", "/carts/{cart}/items")],
    "checkout": [("POST", "/orders"), ("GET", "/orders/{order}")],
    "payment": [("POST", "/payments"), ("POST", "/payments/{order}/capture")],
    "catalog": [("GET", "/products/{sku}"), ("GET", "/categories/{cat}/products")],
    "search": [("GET", "/search")],
    "user": [("POST", "/auth/token"), ("GET", "/users/{uid}")],
    "shipping": [("POST", "/quotes"), ("POST", "/shipments")],
    "recommendation": [("GET", "/recommendations/{uid}")],
    "inventory": [("POST", "/reservations"), ("GET", "/stock/{sku}")],
    "email": [("POST", "/send")],
}

INFO: dict[str, list[str]] = {
    "gateway": [
        '{ip} "{method} {path} HTTP/1.1" 200 {bytes} {sec}s upstream=frontend '
        "request_id={rid}",
        '{ip} "{method} {path} HTTP/1.1" 304 0 {sec}s upstream=frontend request_id={rid}',
        "route matched: {method} {path} -> frontend (request_id={rid})",
    ],
    "frontend": [
        "rendered page {page} in {ms}ms for user {uid}",
        "visit {cart} started for user {uid} from {ip}",
        "served {method} {path} 200 in {ms}ms",
    ],
    "cart": [
        "added item {sku} x{qty} to cart {cart} in {ms}ms",
        "cart {cart} loaded from redis in {ms}ms ({n} items)",
        "cart {cart} merged into cart of user {uid}",
    ],
    "checkout": [
        "order {order} placed: {n} items, total {amount} EUR, in {ms}ms",
        "starting checkout for cart {cart} user {uid}",
        "published OrderPlaced event for order {order} to orders-queue",
    ],
    "payment": [
        "payment authorized for order {order}: amount={amount} EUR provider=stripe "
        "latency={ms}ms",
        "3-D Secure challenge completed for order {order} in {ms}ms",
        "captured payment {pay} for order {order}",
    ],
    "catalog": [
        "GET /products/{sku} 200 in {ms}ms (cache hit)",
        "GET /products/{sku} 200 in {ms}ms (cache miss)",
        "query products where category={cat} returned {n} rows in {ms}ms",
    ],
    "search": [
        'search query="{term}" hits={n} took={ms}ms',
        "index refresh completed in {ms}ms ({n} documents)",
    ],
    "user": [
        "user {uid} authenticated via {auth} in {ms}ms",
        "token refreshed for user {uid}",
        "profile lookup for user {uid} in {ms}ms",
    ],
    "shipping": [
        "shipping quote for order {order}: carrier={carrier} cost={amount} EUR eta={qty}d",
        "label created for shipment {ship} carrier={carrier}",
    ],
    "recommendation": [
        "served {n} recommendations for user {uid} model=als-v{qty} in {ms}ms",
        "feature cache refreshed for {n} users in {ms}ms",
    ],
    "inventory": [
        "reserved {qty} units of {sku} for order {order} (remaining {n})",
        "stock sync with warehouse {wh} completed: {n} skus updated in {ms}ms",
    ],
    "email": [
        "sent order confirmation for order {order} to {mail} via smtp in {ms}ms",
        "consumed message {msg} from orders-queue (lag {ms}ms)",
    ],
    "database": [
        "checkpoint complete: wrote {n} buffers ({pct}%); write={sec} s, sync=0.002 s",
        'automatic vacuum of table "shop.public.{table}": index scans: 1, tuples: {n} removed',
        "connection authorized: user=app database=shop application_name={caller}",
    ],
    "cache": [
        "{n} changes in 60 seconds. Saving...",
        "Background saving started by pid {pid}",
        "DB saved on disk",
    ],
    "queue": [
        "accepting AMQP connection <0.{pid}.0> ({peer}:{port} -> {self_ip}:5672)",
        "connection <0.{pid}.0> ({peer}:{port} -> {self_ip}:5672): user 'shop' authenticated",
    ],
    "generic": ["handled {method} {path} in {ms}ms"],
}

WARNING: dict[str, list[str]] = {
    "service": [
        "retrying request to {callee} (attempt 2/3) after {ms}ms",
        "cache miss for key product:{sku}, loading from database",
        "client {ip} rate-limited on {path}",
        "deprecated header X-Api-Version=1 sent by client {ip}",
    ],
    "database": ["duration: {ms} ms  statement: SELECT * FROM {table} WHERE id = $1"],
    "cache": ["Client id={pid} addr={peer}:{port} closed for idle timeout"],
    "queue": ["closing AMQP connection <0.{pid}.0> ({peer}:{port}): client unexpectedly "
              "closed TCP connection"],
}

ERROR: dict[str, list[str]] = {
    "service": [
        "request {rid} failed: validation error: field '{field}' is required",
        "request {rid} failed: 404 product {sku} not found",
    ],
    "payment": ["payment declined for order {order}: card_declined (request {rid})"],
    "database": ['ERROR:  duplicate key value violates unique constraint "{table}_pkey"'],
    "cache": [],
    "queue": [],
}

# What a caller sees when a dependency is in trouble, by the kind of trouble.
UPSTREAM_REASON: dict[FaultKind | None, list[str]] = {
    FaultKind.LATENCY: ["context deadline exceeded", "read timeout after {ms}ms"],
    FaultKind.CPU_HOG: ["context deadline exceeded", "504 Gateway Timeout"],
    FaultKind.NETWORK_LOSS: ["i/o timeout", "connection reset by peer"],
    FaultKind.ERROR_BURST: ["500 Internal Server Error", "503 Service Unavailable"],
    FaultKind.BAD_DEPLOY: ["500 Internal Server Error", "502 Bad Gateway"],
    FaultKind.MEMORY_LEAK: ["connection refused", "503 Service Unavailable"],
    FaultKind.CONNECTION_POOL_EXHAUSTION: ["503 Service Unavailable",
                                           "504 Gateway Timeout"],
    None: ["503 Service Unavailable"],
}

UPSTREAM_WARNING: dict[str, list[str]] = {
    "service": [
        "slow call to {callee}: {ms}ms (budget {budget}ms) trace_id={tid}",
        "retrying {callee} request (attempt {attempt}/3) after {reason}",
    ],
    "database": ["slow query on {callee} ({ms} ms): SELECT * FROM {table} WHERE id = $1"],
    "cache": ["redis {callee} GET product:{sku} took {ms}ms"],
    "queue": ["publish to {callee} waited {ms}ms for confirm"],
}

UPSTREAM_ERROR: dict[str, list[str]] = {
    "service": [
        "call to {callee} failed after {ms}ms: {reason} trace_id={tid}",
        "request {rid} failed: dependency {callee} unavailable ({reason})",
        "circuit breaker '{callee}' is open after {n} consecutive failures",
    ],
    "database": [
        "could not execute statement on {callee}: canceling statement due to statement "
        "timeout",
        "could not connect to {callee} at {peer}:5432: {db_error}",
    ],
    "cache": ["redis {callee} command GET product:{sku} failed: {reason}"],
    "queue": ["failed to publish OrderPlaced for order {order} to {callee}: {reason}"],
}

# Access-log lines of failed requests, for entities that write an access log.
ACCESS_ERRORS: dict[str, list[str]] = {
    "gateway": ['{ip} "{method} {path} HTTP/1.1" {status} 0 {sec}s upstream={callee} '
                "request_id={rid}"],
}

DB_ERRORS = ["FATAL:  sorry, too many clients already", "timeout expired",
             "server closed the connection unexpectedly"]

OWN_WARNING: dict[FaultKind, list[str]] = {
    FaultKind.CPU_HOG: ["request {rid} took {ms}ms: worker pool saturated ({n} queued)",
                        "event loop lag {ms}ms"],
    FaultKind.MEMORY_LEAK: ["GC pause {ms}ms (heap {used}MiB of {limit}MiB)",
                            "heap usage {used}MiB of {limit}MiB after full GC"],
    FaultKind.LATENCY: ["slow request {method} {path} took {ms}ms trace_id={tid}"],
    FaultKind.ERROR_BURST: ["request {rid} returned 500 in {ms}ms"],
    FaultKind.CONNECTION_POOL_EXHAUSTION: [
        "connection pool '{db}' usage {used}/{limit}, waiting threads {n}"],
    FaultKind.BAD_DEPLOY: ["request {rid} returned 500 in {ms}ms"],
    FaultKind.NETWORK_LOSS: ["TCP retransmission to {peer}:{port} (attempt {attempt})",
                             "connection reset by peer ({peer}:{port}), reconnecting"],
}

OWN_ERROR: dict[FaultKind, list[str]] = {
    FaultKind.CPU_HOG: ["request {rid} timed out after {ms}ms waiting for a worker"],
    FaultKind.MEMORY_LEAK: ["allocation of {n}KiB failed: heap {used}MiB of {limit}MiB",
                            "request {rid} aborted: out of memory"],
    FaultKind.LATENCY: ["request {rid} timed out after {ms}ms"],
    FaultKind.ERROR_BURST: ["unhandled exception handling {method} {path}: {exception}"],
    FaultKind.CONNECTION_POOL_EXHAUSTION: [
        "connection pool '{db}' exhausted: timed out after {ms}ms waiting for a connection "
        "(active={limit}, max={limit})"],
    FaultKind.BAD_DEPLOY: ["{exception}"],
    FaultKind.NETWORK_LOSS: ["read tcp {self_ip}:{port}->{peer}:8080: i/o timeout"],
}

# Faults on datastores speak the datastore's own language.
STORE_OWN: dict[str, dict[FaultKind, tuple[list[str], list[str]]]] = {
    "database": {
        FaultKind.LATENCY: (["duration: {ms} ms  statement: SELECT * FROM {table} WHERE id = $1",
                             "duration: {ms} ms  statement: UPDATE {table} SET status = $1 "
                             "WHERE id = $2"], []),
        FaultKind.CPU_HOG: (["duration: {ms} ms  statement: UPDATE {table} SET status = $1 "
                             "WHERE id = $2"], []),
        FaultKind.CONNECTION_POOL_EXHAUSTION: ([], [
            "FATAL:  sorry, too many clients already",
            "FATAL:  remaining connection slots are reserved for non-replication superuser "
            "connections"]),
    },
    "cache": {
        FaultKind.LATENCY: (["slowlog: command GET product:{sku} took {us} microseconds"], []),
        FaultKind.CPU_HOG: (["slowlog: command MGET took {us} microseconds"], []),
        FaultKind.MEMORY_LEAK: (["used_memory {used}MiB of maxmemory {limit}MiB, evicting "
                                 "keys"],
                                ["OOM command not allowed when used memory > 'maxmemory'"]),
    },
    "queue": {
        FaultKind.LATENCY: (["publisher <0.{pid}.0> blocked for {ms}ms: flow control"], []),
        FaultKind.CPU_HOG: (["publisher <0.{pid}.0> blocked for {ms}ms: flow control"], []),
    },
}

EXCEPTIONS: dict[str, list[str]] = {
    "java": ["java.lang.NullPointerException: Cannot invoke \"{cls}.get{field_cap}()\" because "
             "\"{field}\" is null at com.shop.{pkg}.{cls}.{fn}({cls}.java:{line})",
             "java.lang.IllegalStateException: {field} must not be null"],
    "node": ["TypeError: Cannot read properties of undefined (reading '{field}') at {fn} "
             "(/app/src/{pkg}.js:{line}:{col})"],
    "python": ["KeyError: '{field}' in {fn} ({pkg}.py:{line})",
               "AttributeError: 'NoneType' object has no attribute '{field}'"],
    "go": ["panic: runtime error: invalid memory address or nil pointer dereference "
           "[{pkg}.{fn}:{line}]"],
}

STARTUP = [
    "starting {entity} {version} (commit {sha})",
    "{entity} {version} ready: listening on :8080",
]
SHUTDOWN = ["received SIGTERM, draining connections"]
OOM_KILL = ("Out of memory: Killed process {pid} ({entity}) total-vm:{kb}kB, "
            "anon-rss:{rss}kB")

WORDS: dict[str, list[str]] = {
    "page": ["/", "/product", "/cart", "/checkout", "/search", "/account"],
    "cat": ["shoes", "jackets", "kitchen", "books", "garden", "toys", "audio"],
    "term": ["running shoes", "rain jacket", "espresso machine", "lego", "headphones",
             "yoga mat", "desk lamp"],
    "carrier": ["dhl", "ups", "dpd", "gls"],
    "auth": ["password", "oauth-google", "refresh-token", "magic-link"],
    "table": ["orders", "order_items", "payments", "users", "products", "stock",
              "shipments"],
    "wh": ["ams-1", "ber-2", "par-1"],
    "field": ["address", "discount", "currency", "items", "customerId", "total"],
    "fn": ["applyDiscount", "buildOrder", "renderCart", "computeTotal", "mapAddress"],
    "pkg": ["orders", "pricing", "cart", "handlers", "checkout"],
    "cls": ["OrderService", "PriceCalculator", "CartMapper", "PaymentClient"],
}
