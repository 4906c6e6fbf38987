"""One module per ``streambridge`` verb, behind the dispatcher ``streambridge._tools.cli``.

Each has ``add(verbs)``: register the verb's subparser and set ``run`` to the function doing the work.
``streambridge._tools.cli`` lists them in ``--help`` order.

Verb modules import only the standard library at the top, so building the parser (and ``--help``) stays
instant; each verb imports what it needs when it runs.
"""
