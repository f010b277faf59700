"""Sending help and hearing back, on top of the incident core: choosing, asking and
replacing a service point (`dispatching`, with the offers worker), what the operator is
suggested (`suggestions`), the map's view (`map_view`), answers from phones: SMS
replies, receipts and the responder's link (`answers`, routes in `answers_api`), and
the routes for the map and the suggestions (`api`). The core never imports it: the
lifecycle and ingest's door are handed the dispatcher (`lifecycle.Sending`,
`intake.HelpRequests`) by the composition root."""
