from quart import Blueprint

blueprint = Blueprint("users", __name__)
