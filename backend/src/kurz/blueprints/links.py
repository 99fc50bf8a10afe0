from quart import Blueprint

blueprint = Blueprint("links", __name__)
