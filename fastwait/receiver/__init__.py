"""fastwait's webhook receiver: job results pushed by the APIs, fed to the same registry.

Polling asks "done yet?"; a webhook is the API telling. Both end in
``await registry.publish(status)``, so ``await client.wait(job_id)`` reads the same whichever
arrives first. This package is the HTTP side of that: it checks that a delivery is authentic
(Standard Webhooks signatures on ``/hooks/{provider}``, per-job capability tokens on
``/callbacks/{token}`` for senders that cannot sign), that it is new, and that it is a status
the provider's own :meth:`~fastwait.providers.Provider.parse_status` understands, then publishes
it.

Run it alone with :func:`run_receiver` (or :func:`run_receiver_sync`, what ``fastwait receive
--help`` and the service in the repository's ``receiver/`` run), mount :func:`create_app` with
``add_subapp``, or add its routes to your app with :func:`setup`; in FastAPI, Starlette,
Litestar or Django mount the ASGI app :func:`create_asgi_app`
(``app.mount("/fastwait", create_asgi_app(...))``); in Flask or classic Django (WSGI),
:func:`create_wsgi_app`, which applies each delivery into a :class:`~fastwait.SyncClient`'s
registry. Every app only carries bytes to and from
:class:`WebhookEndpoints`, which decides every answer below, so a server of another kind calls
its ``open``/``answer`` the same way.

What a delivery is answered:

=====  ==========================================================================================
code   when
=====  ==========================================================================================
200    ``{"status": "accepted"}`` published (also for a job nobody awaits yet: it is kept), or
       ``{"status": "duplicate"}``: this ``webhook-id`` was already applied, nothing is done
400    not UTF-8, not JSON, or not a status of the provider
401    signature or timestamp not valid, or a forged callback token
403    a genuine callback token, but the status is of another job than the token's
404    unknown provider; ``/hooks/*`` without a verifier; ``/callbacks/*`` without tokens
405    a method other than POST (``GET``/``HEAD`` for ``/healthz``); ``Allow`` says which
408    the body did not arrive within ``body_timeout`` seconds (the connection is closed); from
       :func:`create_wsgi_app`, when the WSGI server's read of it timed out
409    the same ``webhook-id`` is being applied right now (the sender retries later)
413    body larger than ``max_body_bytes`` (refused before it is read)
415    Content-Type is not ``application/json`` (a charset parameter must be UTF-8)
422    a status whose job id cannot be the route's provider's (tools.fast ids are GUIDv7)
503    the registry failed to store the result, or (from :func:`serve`) ``max_connections``
       are open already: the sender retries later
=====  ==========================================================================================

Slow clients are not kept: :func:`serve` closes a connection that has not sent a complete
request head within ``header_timeout`` seconds (of opening, or of its previous response), and
the app answers 408 to a body not received within ``body_timeout`` seconds.
"""

from fastwait.receiver._app import RECEIVER_KEY, create_app, get_receiver, setup
from fastwait.receiver._asgi import AsgiReceiver, create_asgi_app
from fastwait.receiver._endpoints import (
    DEFAULT_BODY_TIMEOUT,
    Answer,
    PendingDelivery,
    WebhookEndpoints,
)
from fastwait.receiver._providers import receiving_providers
from fastwait.receiver._receiver import DEFAULT_MAX_BODY_BYTES, Rejection, WebhookReceiver
from fastwait.receiver._server import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    RedactingAccessLogger,
    serve,
    serve_until_stopped,
)
from fastwait.receiver._standalone import run_receiver, run_receiver_sync
from fastwait.receiver._wsgi import WebhookWSGIApp, create_wsgi_app
from fastwait.webhooks import CallbackBindings

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "RECEIVER_KEY",
    "Answer",
    "AsgiReceiver",
    "CallbackBindings",
    "PendingDelivery",
    "RedactingAccessLogger",
    "Rejection",
    "WebhookEndpoints",
    "WebhookReceiver",
    "WebhookWSGIApp",
    "create_app",
    "create_asgi_app",
    "create_wsgi_app",
    "get_receiver",
    "receiving_providers",
    "run_receiver",
    "run_receiver_sync",
    "serve",
    "serve_until_stopped",
    "setup",
]
