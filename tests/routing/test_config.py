"""Loading and validating routing configs: every error with its file, line and field path."""

from __future__ import annotations

import textwrap

import pytest

from routing import ConfigError, load_config, parse_config
from routing.presets import SCHEMES

ENV = {"SECRET": "s3cr3t-value", "OTHER": "other-value"}


def config(text: str, env: dict[str, str] | None = None):
    return parse_config(textwrap.dedent(text), "routes.yaml", ENV if env is None else env)


def errors(text: str, env: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    with pytest.raises(ConfigError) as caught:
        config(text, env)
    from routing._errors import format_path

    return [(i.line, format_path(i.path), i.message) for i in caught.value.issues]


MINIMAL = """\
version: 1
sources:
  partner:
    path: /callbacks/{job_id}
    verify: {scheme: hmac, secrets: ["${SECRET}"], header: x-signature}
    routes:
      - signal: {job: params.job_id}
"""


def test_a_minimal_config_compiles():
    compiled = config(MINIMAL)
    source, params = compiled.match("/callbacks/42")
    assert source.name == "partner" and params == {"job_id": "42"}
    assert compiled.match("/callbacks/42/extra") is None and compiled.match("/other") is None
    assert source.routes[0].name == "route-0"


def test_env_interpolation_with_defaults_and_dropped_empty_entries():
    compiled = config("""\
        version: 1
        sources:
          s:
            path: /s
            verify:
              scheme: stripe
              secrets: ["${SECRET}", "${OLD:-}", "${MISSING:-fallback}"]
            routes: []
        """)
    secrets = [s.get_secret_value() for s in compiled.sources["s"].verify.secrets]
    assert secrets == ["s3cr3t-value", "fallback"]


def test_missing_variable_is_named_and_its_value_never_shown():
    found = errors(MINIMAL, env={})
    assert found == [(5, "sources.partner.verify.secrets[0]",
                      "environment variable SECRET is not set (and has no default)")]


def test_secrets_never_appear_in_repr_or_errors():
    compiled = config(MINIMAL)
    assert "s3cr3t-value" not in repr(compiled)
    bad = MINIMAL.replace("header: x-signature", "header: x-signature, colour: red")
    with pytest.raises(ConfigError) as caught:
        config(bad)
    assert "s3cr3t-value" not in str(caught.value)


def test_signal_names_go_with_job_and_workflow_targets():
    found = errors("""\
        version: 1
        sources:
          stripe:
            path: /webhooks/stripe
            verify: {scheme: stripe, secrets: [s]}
            routes:
              - signal: {key: "'k'", name: "'payment'"}
              - signal: {job: body.id, name: "'payment'", propagate: false}
              - signal: {step: "'a'", job: body.id}
              - signal: {workflow: body.w, name: naem}
        """)
    assert found == [
        (7, "sources.stripe.routes[0].signal",
         "name applies to job and workflow targets, not to key"),
        (8, "sources.stripe.routes[1].signal",
         "propagate applies to a workflow broadcast (workflow and name)"),
        (9, "sources.stripe.routes[2].signal", "step goes with workflow"),
        (10, "sources.stripe.routes[3].signal.name", found[3][2]),
    ]
    assert "unknown variable 'naem'" in found[3][2]


def test_every_error_is_reported_at_once_with_its_line():
    found = errors("""\
        version: 1
        sources:
          stripe:
            path: /webhooks/stripe
            verify:
              scheme: stripe
              secrets: ["${SECRET}"]
              tolerance: soon
              header: x
            routes:
              - name: a
                when: body.type ==
                signal:
                  job: body.id
                  key: "'x'"
              - signal: {}
              - signal: {job: bdy.id}
              - signal: {workflow: body.w}
              - signal: {job: [1, 2]}
          other:
            path: /webhooks/stripe
            verify: {scheme: nope}
          third:
            path: /x
            verify: {scheme: jwt, algorithms: [HS256, RS256], secrets: [a]}
            colour: red
        """)
    assert found == [
        (8, "sources.stripe.verify.tolerance",
         "Input should be a valid integer, unable to parse string as an integer"),
        (9, "sources.stripe.verify.header", "unknown key 'header'"),
        (12, "sources.stripe.routes[0].when", found[2][2]),
        (14, "sources.stripe.routes[0].signal", "a signal has one target, not job and key"),
        (16, "sources.stripe.routes[1].signal",
         "a signal needs a target: job, workflow (with step or name) or key"),
        (17, "sources.stripe.routes[2].signal.job",
         "unknown variable 'bdy' in 'bdy.id'; expressions see body, headers, query, params, "
         "source"),
        (18, "sources.stripe.routes[3].signal",
         "a workflow target needs a step (signal its jobs) or a name (broadcast the "
         "workflow's named signal)"),
        (19, "sources.stripe.routes[4].signal.job",
         "expected an expression (a string) or a constant, not a list"),
        (21, "sources.other.path", "path '/webhooks/stripe' is already served by source 'stripe'"),
        (22, "sources.other.verify",
         "unknown scheme 'nope'; did you mean 'none'? Known schemes: " + ", ".join(SCHEMES)),
        (25, "sources.third.verify", "mixing HS* with public-key algorithms invites algorithm "
                                     "confusion; use one family per source"),
        (26, "sources.third.colour", "unknown key 'colour'"),
    ]
    assert "Syntax error" in found[2][2] and "1:13" in found[2][2]


@pytest.mark.parametrize(("snippet", "line", "path", "message"), [
    ("version: 2\nsources:\n  a: {path: /a, verify: {scheme: none, insecure: true}}\n", 1,
     "version", "Input should be 1"),
    ("version: 1\nsources: {}\n", 2, "sources",
     "Dictionary should have at least 1 item after validation, not 0"),
    ("version: 1\nsources:\n  a: {path: /a, verify: {scheme: none}}\n", 3,
     "sources.a.verify.insecure",
     "none needs 'insecure'"),
    ("version: 1\nsources:\n  A!: {path: /a, verify: {scheme: none, insecure: true}}\n", 3,
     "sources.A!", "source names are lower-case letters, digits, - and _"),
    ("version: 1\nsources:\n  a: {path: a, verify: {scheme: none, insecure: true}}\n", 3,
     "sources.a.path", "path 'a' must start with / and use URL-safe characters, with {name} "
     "for path parameters"),
    ("version: 1\nsources:\n  a: {path: /a, verify: {scheme: none, insecure: true}}\n"
     "  a: {path: /b, verify: {scheme: none, insecure: true}}\n", 4, "sources.a",
     "duplicate key 'a'"),
    ("version: 1\nsources:\n  a:\n    path: /a\n    verify: {scheme: hmac, secrets: [x], header: h,"
     " signed_content: '{timestamp}.{body}'}\n", 5, "sources.a.verify",
     "signed_content uses {timestamp} but timestamp_header is not set"),
    ("version: 1\nsources:\n  a:\n    path: /a\n    verify: {scheme: none, insecure: true}\n"
     "    routes:\n      - signal: {key: \"'k'\", payload: {x: \"body.\"}}\n", 7,
     "sources.a.routes[0].signal.payload.x", None),
    ("version: 1\nsources:\n  a:\n    path: /a\n    verify: {scheme: none, insecure: true}\n"
     "    routes:\n      - {name: r, signal: {key: \"'k'\"}}\n"
     "      - {name: r, signal: {key: \"'k'\"}}\n",
     8, "sources.a.routes[1].name", "two routes are named 'r'"),
])
def test_validation_errors(snippet, line, path, message):
    ((found_line, found_path, found_message),) = errors(snippet)
    assert (found_line, found_path) == (line, path)
    if message is not None:
        assert found_message == message


def test_yaml_syntax_error_names_the_line():
    assert errors("version: 1\nsources:\n  a: [unclosed\n")[0][0] in (3, 4)


def test_load_config_reads_a_file_and_names_it(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(MINIMAL)
    assert "partner" in load_config(path, ENV).sources
    with pytest.raises(ConfigError, match=r"missing\.yaml:1"):
        load_config(tmp_path / "missing.yaml")


def test_default_delivery_ids_per_scheme():
    compiled = config("""\
        version: 1
        sources:
          gh: {path: /gh, verify: {scheme: github, secrets: [x]}}
          st: {path: /st, verify: {scheme: stripe, secrets: [x]}}
          hm: {path: /hm, verify: {scheme: hmac, secrets: [x], header: h}}
        """)
    assert compiled.sources["gh"].delivery_id.source == "headers['x-github-delivery']"
    assert compiled.sources["st"].delivery_id.source == "body.id"
    assert compiled.sources["hm"].delivery_id is None


def test_what_would_fail_at_run_time_is_reported_in_the_same_pass():
    found = errors(textwrap.dedent("""\
        version: 1
        sources:
          a:
            path: /w/{job_id}
            verify: {scheme: strpe, secrets: [x]}
            routes:
              - when: body.type
                signal: {job: params.jobid}
              - signal: {job: unknown_fn(body)}
              - when: "[1, 2].exists(x, x > 1) && has(body.y)"
                signal: {job: "headers['x-job']", payload: {a: headers.x-job}}
          b:
            path: b
            verify: {scheme: none, insecure: true}
            routes:
              - signal: {job: params.id, payload: {x: headers.foo.bar, y: source.name}}
        """))
    messages = {(line, path): message for line, path, message in found}
    assert messages[(5, "sources.a.verify")].startswith("unknown scheme 'strpe'; did you mean "
                                                        "'stripe'?")
    assert "when must be true or false" in messages[(7, "sources.a.routes[0].when")]
    assert "did you mean params.job_id" in messages[(8, "sources.a.routes[0].signal.job")]
    assert "unknown function unknown_fn()" in messages[(9, "sources.a.routes[1].signal.job")]
    assert "headers['x-name']" in messages[(11, "sources.a.routes[2].signal.payload.a")]
    assert (10, "sources.a.routes[2].when") not in messages  # macros and their variables
    assert "must start with /" in messages[(13, "sources.b.path")]
    assert "selects inside a string" in messages[(16, "sources.b.routes[0].signal.payload.x")]
    assert "source's name" in messages[(16, "sources.b.routes[0].signal.payload.y")]


def test_params_on_a_path_without_parameters():
    found = errors("version: 1\nsources:\n  a:\n    path: /a\n"
                   "    verify: {scheme: none, insecure: true}\n"
                   "    routes:\n      - signal: {job: params.id}\n")
    assert found == [(7, "sources.a.routes[0].signal.job",
                      "params.id in 'params.id': this source's path has no {name} parameters")]


def test_an_unquoted_expression_in_a_flow_mapping_gets_a_hint():
    with pytest.raises(ConfigError, match=r"must be quoted: \{job: \"headers\['x-job'\]\"\}"):
        config("version: 1\nsources:\n  a:\n    path: /a\n"
               "    verify: {scheme: none, insecure: true}\n"
               "    routes:\n      - signal: {job: headers['x']}\n")
