from quart import Blueprint

blueprint = Blueprint("tokens", __name__)
