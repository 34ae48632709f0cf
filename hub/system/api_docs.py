"""The API docs at /schema (Redoc) and /schema/swagger (Swagger UI), served from the package:
their JavaScript and CSS are vendored in ui/static/vendor/ (see its README), so the docs work on
a closed network. Litestar's default pages load them, a favicon and Google fonts from CDNs; the
other default viewers (Elements, RapiDoc, Scalar) are not offered for the same reason."""

from __future__ import annotations

from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin

VENDOR = "/static/vendor"
REDOC_JS = f"{VENDOR}/redoc-2.5.4/redoc.standalone.js"
SWAGGER = f"{VENDOR}/swagger-ui-5.18.2"
FAVICON = "<link rel='icon' href='data:,'>"  # none: no request leaves the hub


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="seat-hub", version="1.0.0", path="/schema",
        render_plugins=[
            RedocRenderPlugin(js_url=REDOC_JS, google_fonts=False, favicon=FAVICON, path="/"),
            SwaggerRenderPlugin(js_url=f"{SWAGGER}/swagger-ui-bundle.js", css_url=f"{SWAGGER}/swagger-ui.css",
                                standalone_preset_js_url=f"{SWAGGER}/swagger-ui-standalone-preset.js",
                                favicon=FAVICON, path="/swagger"),
        ],
    )
