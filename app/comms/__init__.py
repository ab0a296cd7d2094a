"""The communication centre: emails sent from records (logged as `email` records with their
delivery status), the customer's merged timeline, follow-up reminders and overdue follow-ups.

    from app.comms.email import OutgoingEmail, send_email

No Flask here: the pages (app/web/email.py), the API (app/api/comms.py) and the command line
(app/cli_comms.py) call these modules. docs/comms.md describes the features.
"""
