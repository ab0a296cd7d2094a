"""The start page: what the signed-in user should work on now."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index() -> str:
    return render_template("home/index.html")
