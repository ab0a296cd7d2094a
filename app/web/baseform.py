"""The base of every form in the web app: Flask-WTF (CSRF) with WTForms' own messages ("This
field is required.", "Not a valid date value.") in the user's language. Flask-WTF translates
them only through flask-babel, which we do not use; WTForms ships the catalogues itself."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms.meta import DefaultMeta

from app.i18n import get_locale


class LocalizedMeta(FlaskForm.Meta):
    @property
    def locales(self) -> list[str] | bool:
        return ["zh"] if get_locale() == "zh_CN" else False

    def get_translations(self, form: Any) -> Any:
        return DefaultMeta.get_translations(self, form)


class CrmForm(FlaskForm):
    class Meta(LocalizedMeta):
        pass
