"""Satisfaction surveys (docs/service.md): when a case closes, its contact gets an email with a
link to a public page (/survey/<token>) where they rate the service; the answers land on the
`survey_response` record, on the case and in the service dashboard.

- app/surveys/service.py: `start_survey`, `open_survey`, `submit`, `latest_of_case`;
- app/surveys/action.py: the `send_survey` action and the plugin mirroring a survey onto its case.

No Flask here: the public page and the case's side card are app/web/surveys.py.
"""
