"""Translates a SAM template into plain CloudFormation JSON, offline.

Usage: sam_translate.py TEMPLATE OUTPUT_JSON

aws-sam-translator needs a managed-policy loader only for managed policy names in a function's
`Policies`; this stub answers from a fixed table and never calls IAM, so the translation needs
no network and no credentials. dmslake's functions use their own roles, so the table is empty
and any managed policy name in `Policies` fails the translation loudly.
"""

import json
import os
import sys

import yaml
from samtranslator.translator.transform import transform
from samtranslator.model.exceptions import InvalidDocumentException


class OfflinePolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader (which lists IAM policies online)."""

    def __init__(self, known=None):
        self._known = dict(known or {})

    def load(self):
        return dict(self._known)


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short-form tags (!Ref, !Sub, ...) into the
    long form ({"Ref": ...}, {"Fn::Sub": ...}) the translator expects."""


def _construct_tag(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)


def stand_in_packaged_code(template):
    """Replaces local CodeUri paths with S3 URLs, as `sam package` would after uploading the
    built code; the translator accepts only S3 locations."""
    globals_fn = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_fn.get("CodeUri"), str) and not globals_fn["CodeUri"].startswith("s3://"):
        globals_fn["CodeUri"] = "s3://offline-translation/code.zip"
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        code = props.get("CodeUri")
        if isinstance(code, str) and not code.startswith("s3://"):
            props["CodeUri"] = f"s3://offline-translation/{logical_id}.zip"


def main(argv):
    # The translator fills pseudo parameters from a region; any region will do offline.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    template = load_template(argv[1])
    stand_in_packaged_code(template)
    try:
        translated = transform(template, {}, OfflinePolicyLoader())
    except InvalidDocumentException as err:
        for cause in err.causes:
            print(f"{argv[1]}: {cause.message}", file=sys.stderr)
        return 1
    with open(argv[2], "w", encoding="utf-8") as handle:
        json.dump(translated, handle, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
