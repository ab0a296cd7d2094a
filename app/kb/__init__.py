"""The knowledge base (docs/service.md): articles (`kb_article`) filed in a category tree
(`kb_category`), published through the `kb_publish` approval (workflows/knowledge.yaml),
searched by agents and used as answers on cases.

- app/kb/search.py: `search` (ranked, by category, as the user may see), `category_tree`;
- app/kb/answer.py: `use_answer` (an article into a case's resolution), `mark_helpful`;
- app/kb/markdown.py: the safe Markdown subset articles are written in;
- app/kb/plugin.py: the built-in plugin counting each publication in `revision`.

No Flask here: the pages (app/web/kb.py), the API (app/api/kb.py) and `crm kb` call these.
"""
