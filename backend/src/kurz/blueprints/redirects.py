from quart import Blueprint

blueprint = Blueprint("redirects", __name__)
