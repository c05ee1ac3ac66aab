"""The import-linter contracts (.importlinter) hold for the code, and a wrong arrow breaks them: each
case writes one throwaway module into a copy of the tree and runs `lint-imports` on the copy."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGES = ["crm", "customers", "followups", "complaints", "clubs", "config"]
LAYERS = "The domain apps stand on customers, customers on the core"
CORE = "The core imports no domain app"
ACYCLIC = "No import cycle inside an app"


def lint_imports(tree: Path) -> tuple[int, dict[str, str], str]:
    """Exit code, {contract name: KEPT or BROKEN} and the whole report of `lint-imports` in ``tree``."""
    command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]
    result = subprocess.run(
        [*command, "--no-cache", "--no-logo"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    verdicts = {}
    for line in result.stdout.splitlines():
        name, _space, verdict = line.rpartition(" ")
        if verdict in ("KEPT", "BROKEN"):
            verdicts[name] = verdict
    return result.returncode, verdicts, result.stdout + result.stderr


@pytest.fixture(scope="module")
def pristine_tree(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tree / ".importlinter")
    return tree


def test_the_code_keeps_every_contract():
    returncode, verdicts, report = lint_imports(ROOT)

    assert verdicts == {LAYERS: "KEPT", CORE: "KEPT", ACYCLIC: "KEPT"}, report
    assert returncode == 0, report


@pytest.mark.parametrize(
    ("modules", "broken"),
    [
        pytest.param({"crm/wrong_arrow.py": "import customers.models\n"}, {LAYERS, CORE}, id="core-imports-customers"),
        pytest.param(
            {"crm/wrong_arrow.py": "def count():\n    from followups.models import FollowupTask\n"},
            {LAYERS, CORE},
            id="core-imports-followups-inside-a-function",
        ),
        pytest.param(
            {"customers/wrong_arrow.py": "from complaints import selectors\n"}, {LAYERS}, id="customers-imports-up"
        ),
        pytest.param(
            {"complaints/wrong_arrow.py": "from followups import services\n"},
            {LAYERS},
            id="complaints-imports-followups",
        ),
        pytest.param({"clubs/wrong_arrow.py": "import complaints.models\n"}, {LAYERS}, id="clubs-imports-complaints"),
        pytest.param(
            {
                "followups/cycle_a.py": "from followups import cycle_b\n",
                "followups/cycle_b.py": "import followups.cycle_a\n",
            },
            {ACYCLIC},
            id="cycle-inside-followups",
        ),
        pytest.param(
            {"customers/dms/wrong_arrow.py": "from customers import services\n"},
            {ACYCLIC},
            id="cycle-inside-customers-file-format-imports-the-import",
        ),
    ],
)
def test_a_wrong_arrow_breaks_its_contract(pristine_tree, tmp_path, modules, broken):
    tree = tmp_path / "tree"
    shutil.copytree(pristine_tree, tree)
    for path, source in modules.items():
        (tree / path).write_text(source)

    returncode, verdicts, report = lint_imports(tree)

    assert {name for name, verdict in verdicts.items() if verdict == "BROKEN"} == broken, report
    assert set(verdicts) == {LAYERS, CORE, ACYCLIC}, report
    assert returncode == 1, report


STANDIN = ROOT / "tests" / "followups" / "club_standin.py"
CANDIDATES_FROM_CUSTOMERS = "from customers.rule_builders import Candidates, "


@pytest.mark.parametrize(
    ("candidates_from", "broken"),
    [
        pytest.param(CANDIDATES_FROM_CUSTOMERS, set(), id="through-customers-keeps-the-layers"),
        pytest.param(
            "from followups.generation import Candidates\nfrom customers.rule_builders import ",
            {LAYERS},
            id="through-followups-breaks-them",
        ),
    ],
)
def test_a_domain_app_registers_followup_extensions_through_customers(pristine_tree, tmp_path, candidates_from, broken):
    """The club registers the ``event_notice`` rule builder and the sign-up by SMS reply without
    importing follow-ups: the stand-in that the follow-ups tests use end to end, placed in clubs/,
    keeps every contract (the registries and their types live in customers); the same module taking
    ``Candidates`` from follow-ups would break the layers."""
    tree = tmp_path / "tree"
    shutil.copytree(pristine_tree, tree)
    source = STANDIN.read_text(encoding="utf-8")
    assert source.count(CANDIDATES_FROM_CUSTOMERS) == 1
    (tree / "clubs" / "followup_extensions.py").write_text(
        source.replace(CANDIDATES_FROM_CUSTOMERS, candidates_from), encoding="utf-8"
    )

    returncode, verdicts, report = lint_imports(tree)

    assert {name for name, verdict in verdicts.items() if verdict == "BROKEN"} == broken, report
    assert set(verdicts) == {LAYERS, CORE, ACYCLIC}, report
    assert returncode == (1 if broken else 0), report


# What import-linter cannot see: a domain app named in a string (a model, a permission, a URL name,
# a lookup across a relation).
DOMAIN_BY_NAME = re.compile(
    r"""["'](customers|followups|complaints|clubs)[.:"']|\b(customers|followups|complaints|clubs)__|get_model\("""
)


def test_the_core_names_no_domain_app_in_a_string_either():
    core_files = [
        *(path for path in (ROOT / "crm").rglob("*.py") if "migrations" not in path.parts),
        ROOT / "templates" / "base.html",
        *(ROOT / "templates" / "crm").rglob("*.html"),
        ROOT / "templates" / "partials" / "figures.html",
    ]

    named = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in core_files
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if DOMAIN_BY_NAME.search(line)
    ]

    assert len(core_files) > 40
    assert named == []


def test_make_test_and_make_lint_check_the_contracts():
    """`make test` runs lint-imports before the tests (and so does `make lint`): a wrong arrow fails CI."""
    makefile = (ROOT / "Makefile").read_text()

    def recipe(target: str) -> list[str]:
        body = makefile.split(f"\n{target}: ", 1)[1].split("\n\n", 1)[0]
        return [line.strip() for line in body.splitlines()[1:]]

    test_steps, lint_steps = recipe("test"), recipe("lint")
    assert "$(VENV)/bin/lint-imports --no-logo" in lint_steps
    lint_imports = test_steps.index("$(VENV)/bin/lint-imports --no-logo")
    pytest_step = next(index for index, step in enumerate(test_steps) if " -m pytest " in step)
    assert lint_imports < pytest_step
