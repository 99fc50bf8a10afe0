from quart import Blueprint

blueprint = Blueprint("members", __name__)
