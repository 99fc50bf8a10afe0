from quart import Blueprint

blueprint = Blueprint("orgs", __name__)
