"""A web worker's warm-up (crm/warmup.py, run by config/wsgi.py as each worker boots)."""

import logging

import pytest
from django.template import engines

from crm.warmup import project_template_names, warm_up


def cached_names() -> set[str]:
    loader = engines["django"].engine.template_loaders[0]  # the cached loader (DEBUG off or on)
    return {template.origin.template_name for template in loader.get_template_cache.values()
            if not isinstance(template, type)}  # fmt: skip


def test_the_project_templates_and_only_them_are_named():
    names = project_template_names()
    assert "base.html" in names
    assert "followups/queue.html" in names
    assert "customers/customer_detail.html" in names
    assert "admin/login.html" not in names  # the admin's own, a library's
    assert len(names) == len(set(names))


def test_warm_up_compiles_every_project_template_into_the_cached_loader():
    engines["django"].engine.template_loaders[0].reset()
    compiled = warm_up()
    names = project_template_names()
    assert compiled == len(names)
    assert set(names) <= cached_names()


def test_a_template_that_does_not_compile_is_logged_not_raised(tmp_path, settings, caplog):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.html").write_text("{% if %}")
    settings.BASE_DIR = tmp_path
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [broken]}]  # Django's signal resets the engines
    with caplog.at_level(logging.ERROR, logger="crm.warmup"):
        compiled = warm_up()
    assert project_template_names() == ["bad.html"]  # the apps' templates are outside this BASE_DIR
    assert "Template bad.html does not compile" in caplog.text
    assert compiled == 0


@pytest.mark.parametrize("name", ["followups/queue.html", "customers/customer_detail.html"])
def test_the_wsgi_module_warms_up(name):
    import importlib

    import config.wsgi

    engines["django"].engine.template_loaders[0].reset()
    importlib.reload(config.wsgi)
    assert name in cached_names()
