"""The ops API's routes, one module per resource group; ``ops_api.app`` includes them in this order (the order of
the paths in ``ops_api/openapi.json``): users, queues, complaints, explanations, audit,
monitoring (model health)."""
