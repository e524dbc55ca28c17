from __future__ import annotations

from mingdeng.notify.adapters.templates import load_templates
from mingdeng.notify.domain.rules import RULES, template_problems


def test_every_rule_has_a_template_that_uses_only_what_it_fills() -> None:
    shipped = load_templates()
    assert template_problems({name: t.params for name, t in shipped.items()}) == []
    assert RULES.keys() <= shipped.keys()


def test_a_missing_template_or_an_unknown_parameter_is_named() -> None:
    templates = {rule: sorted(params) for rule, params in RULES.items()}
    del templates["daily_maxim"]
    templates["bulletin"] = [*templates["bulletin"], "weather"]
    assert template_problems(templates) == [
        "no template for the rule 'daily_maxim'",
        "the template 'bulletin' uses ['weather'], which the rule does not fill",
    ]
