from quart import Blueprint

blueprint = Blueprint("sessions", __name__)
