"""Where the local API's routes live; shared by the server and its client."""

API_PREFIX = "/api/v1"
