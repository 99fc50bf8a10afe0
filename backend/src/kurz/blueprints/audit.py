from quart import Blueprint

blueprint = Blueprint("audit", __name__)
