"""PURE: a document's curator metadata -> a schema.org JSON-LD description, the manifest's ``seeAlso``.

Presentation 3.0 carries no descriptive semantics on purpose (§3.3.1 ``seeAlso``); harvesters and
search engines read a machine-readable description instead (Change Discovery 1.0 §2). schema.org is
chosen over Dublin Core because aggregators and web search engines both read it, and its
``ArchiveComponent`` / ``ArchiveOrganization`` name exactly what an archive publishes.
"""

from __future__ import annotations

from iiif_prezi3 import LinkedResource

from manifests.model import LANGUAGES, Document, Text

SCHEMA_ORG = "https://schema.org/"
MEDIA_TYPE = "application/ld+json"
LABEL = Text(vi="Mô tả theo schema.org", en="schema.org description")


def see_also(description_url: str) -> LinkedResource:
    # Change Discovery 1.0 §3.3 object: a document that software reads is a Dataset.
    return LinkedResource(id=description_url, type="Dataset", format=MEDIA_TYPE, profile=SCHEMA_ORG,
                   label=LABEL.language_map())


def describe_document(document: Document, manifest_url: str, description_url: str) -> dict:
    description: dict = {
        "@context": SCHEMA_ORG,
        "@id": description_url,
        "@type": "ArchiveComponent",
        "identifier": document.id,
        "name": _language_values(document.label),
        "description": _language_values(document.summary),
        "license": document.rights,
        "creditText": _language_values(document.attribution),
        "holdingArchive": {
            "@id": document.provider.id,
            "@type": "ArchiveOrganization",
            "name": _language_values(document.provider.label),
            "url": document.provider.homepage,
        },
        "numberOfPages": len(document.pages),
        # The IIIF manifest is how the document itself is seen (schema.org encoding: a MediaObject).
        "encoding": {"@type": "MediaObject", "contentUrl": manifest_url,
                     "encodingFormat": 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'},
        "additionalProperty": [
            {"@type": "PropertyValue", "name": _language_values(entry.label), "value": _language_values(entry.value)}
            for entry in document.metadata
        ],
    }
    if document.nav_date:
        description["temporalCoverage"] = document.nav_date
    if document.homepage:
        description["url"] = document.homepage
    return description


def _language_values(text: Text) -> list[dict[str, str]]:
    return [{"@language": language, "@value": getattr(text, language)} for language in LANGUAGES]
