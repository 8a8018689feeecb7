"""One module per HTTP function: its Powertools `Router` (the route, its models and its
responses) and, for a route with a JSON body, that body's bounds (`BODY`). The function
includes its router in its own resolver; `opayo_fba.api.openapi` includes them all."""
