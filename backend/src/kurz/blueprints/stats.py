from quart import Blueprint

blueprint = Blueprint("stats", __name__)
