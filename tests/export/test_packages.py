"""The packages' XML: the SCORM manifests validated against the ADL and IMS schemas the packages carry, and
everything checked structurally with lxml for what an LMS's importer requires.

The structural checks: namespaces, the SCORM version, ids that resolve, every referenced file present, element
order where the schema fixes it, the mastery score and the QTI items' correct responses and feedback. The QTI
2.1 items are checked structurally only (no package here ships the IMS QTI 2.1 schemas).
"""

from __future__ import annotations

import copy
import io
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from coursegen.shared.courseview import CourseView
from coursegen.shared.export import FORMATS, UnknownFormatError, export_course
from tests.export.conftest import course_view, stored_course_json

CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
CP = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP = "http://www.adlnet.org/xsd/adlcp_v1p3"
IMSSS = "http://www.imsglobal.org/xsd/imsss"
QTI = "http://www.imsglobal.org/xsd/imsqti_v2p1"


def _package(view: CourseView, fmt: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(export_course(view, fmt).data))


def _xml(archive: zipfile.ZipFile, name: str) -> etree._Element:
    return etree.fromstring(archive.read(name))


def _check_content_package(archive: zipfile.ZipFile, ns: str) -> etree._Element:
    assert "imsmanifest.xml" in archive.namelist()  # at the root of the zip
    manifest = _xml(archive, "imsmanifest.xml")
    assert manifest.tag == f"{{{ns}}}manifest"
    assert [child.tag for child in manifest] == [f"{{{ns}}}metadata", f"{{{ns}}}organizations", f"{{{ns}}}resources"]
    ids = [e.get("identifier") for e in manifest.iter() if e.get("identifier")]
    assert len(ids) == len(set(ids)), "identifiers must be unique"
    resources = {r.get("identifier"): r for r in manifest.iter(f"{{{ns}}}resource")}
    for resource in resources.values():
        for f in resource.iter(f"{{{ns}}}file"):
            assert f.get("href") in archive.namelist()
        if resource.get("href"):
            assert resource.get("href") in archive.namelist()
        for dep in resource.iter(f"{{{ns}}}dependency"):
            assert dep.get("identifierref") in resources
    for item in manifest.iter(f"{{{ns}}}item"):
        assert item.get("identifierref") in resources
    organizations = manifest.find(f"{{{ns}}}organizations")
    assert organizations is not None
    if len(organizations):
        assert organizations.get("default") in {o.get("identifier") for o in organizations}
    return manifest


def test_the_scorm12_manifest_has_one_sco_and_the_pass_mark_as_mastery_score(view: CourseView) -> None:
    archive = _package(course_view(pass_mark=75), "scorm12")
    manifest = _check_content_package(archive, CP12)
    assert manifest.findtext(f"{{{CP12}}}metadata/{{{CP12}}}schema") == "ADL SCORM"
    assert manifest.findtext(f"{{{CP12}}}metadata/{{{CP12}}}schemaversion") == "1.2"
    (item,) = manifest.iter(f"{{{CP12}}}item")
    assert item.findtext(f"{{{ADLCP12}}}masteryscore") == "75"
    assert item.findtext(f"{{{CP12}}}title") == view.title
    (sco,) = manifest.iter(f"{{{CP12}}}resource")
    assert sco.get(f"{{{ADLCP12}}}scormtype") == "sco" and sco.get("type") == "webcontent"
    launch = archive.read(sco.get("href")).decode()
    assert "API_1484_11" in launch and "LMSInitialize" in launch and "<iframe" not in launch


def test_the_scorm2004_manifest_is_fourth_edition_and_sequencing_ready(view: CourseView) -> None:
    archive = _package(view, "scorm2004")
    manifest = _check_content_package(archive, CP)
    assert manifest.findtext(f"{{{CP}}}metadata/{{{CP}}}schemaversion") == "2004 4th Edition"
    (item,) = manifest.iter(f"{{{CP}}}item")
    sequencing = item.find(f"{{{IMSSS}}}sequencing")
    assert sequencing is not None
    # imsss's sequence: objectives come before deliveryControls.
    assert [c.tag for c in sequencing] == [f"{{{IMSSS}}}objectives", f"{{{IMSSS}}}deliveryControls"]
    primary = sequencing.find(f"{{{IMSSS}}}objectives/{{{IMSSS}}}primaryObjective")
    assert primary is not None and primary.get("satisfiedByMeasure") == "true"
    assert primary.findtext(f"{{{IMSSS}}}minNormalizedMeasure") == "0.80"
    controls = sequencing.find(f"{{{IMSSS}}}deliveryControls")
    assert controls is not None and controls.get("completionSetByContent") == "true"
    organization = manifest.find(f"{{{CP}}}organizations/{{{CP}}}organization")
    assert organization is not None and organization[-1].tag == f"{{{IMSSS}}}sequencing"
    (sco,) = manifest.iter(f"{{{CP}}}resource")
    assert sco.get(f"{{{ADLCP}}}scormType") == "sco"


XSI_LOCATION = "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"
XML_NS = "http://www.w3.org/XML/1998/namespace"


def _package_schema(archive: zipfile.ZipFile, manifest: etree._Element, folder: Path) -> etree.XMLSchema:
    """The schema of every namespace the manifest's schemaLocation names, from the files the package carries."""
    for name in archive.namelist():
        if name.endswith(".xsd"):
            (folder / name).write_bytes(archive.read(name))
    location = (manifest.get(XSI_LOCATION) or "").split()
    pairs = list(zip(location[::2], location[1::2], strict=True))
    assert pairs and all(name in archive.namelist() for _, name in pairs), "every schema named is in the package"
    # libxml2 refuses two things in SCORM 1.2's own files: its ims_xml.xsd (the xml namespace declared as the
    # default one) and the IMS Metadata 1.2.1 schema (a content model that is not deterministic). The xml
    # namespace is taken from 2004's xml.xsd, and the metadata schema is left out: these manifests hold no
    # metadata element of its namespace, so nothing goes unchecked.
    xml_xsd = resources.files("coursegen.shared.export").joinpath("schemas", "scorm2004", "xml.xsd")
    (folder / "w3c-xml.xsd").write_bytes(xml_xsd.read_bytes())
    imports = [f'<xs:import namespace="{XML_NS}" schemaLocation="w3c-xml.xsd"/>'] + [
        f'<xs:import namespace="{ns}" schemaLocation="{name}"/>' for ns, name in pairs if not name.startswith("imsmd")
    ]
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:coursegen:package">'
        + "".join(imports)
        + "</xs:schema>"
    )
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), base_url=folder.as_uri() + "/"))


@pytest.mark.parametrize("fmt", ["scorm12", "scorm2004"])
def test_the_scorm_manifests_are_valid_against_the_schemas_they_name(
    fmt: str, view: CourseView, tmp_path: Path
) -> None:
    archive = _package(view, fmt)
    manifest = _xml(archive, "imsmanifest.xml")
    schema = _package_schema(archive, manifest, tmp_path)
    assert schema.validate(manifest), [str(e) for e in schema.error_log]
    # The schemas do check: an element out of the schema's order is refused.
    broken = copy.deepcopy(manifest)
    broken.append(broken[0])
    assert not schema.validate(broken)
    metadata_ns = {e.tag.split("}")[0][1:] for e in manifest.iter() if isinstance(e.tag, str)}
    assert not any("imsmd" in ns for ns in metadata_ns), "the metadata schema left out is not needed"


def test_the_qti_item_bank_has_a_choice_item_per_question_with_answer_and_feedback(view: CourseView) -> None:
    archive = _package(view, "qti")
    manifest = _check_content_package(archive, CP)
    items = [r for r in manifest.iter(f"{{{CP}}}resource") if r.get("type") == "imsqti_item_xmlv2p1"]
    assert len(items) == view.question_count
    questions = [(m, n, q) for m in view.modules for n, q in enumerate(m.quiz)]
    for resource, (module, n, question) in zip(items, questions, strict=True):
        item = _xml(archive, resource.get("href"))
        assert item.tag == f"{{{QTI}}}assessmentItem"
        assert item.get("identifier").endswith(module.question_id(n))
        interaction = item.find(f".//{{{QTI}}}choiceInteraction")
        assert interaction is not None and interaction.get("maxChoices") == "1"
        assert interaction.findtext(f"{{{QTI}}}prompt") == question.question
        choices = {c.get("identifier"): c.text for c in interaction.iter(f"{{{QTI}}}simpleChoice")}
        assert list(choices.values()) == list(question.options)
        correct = item.findtext(f"{{{QTI}}}responseDeclaration/{{{QTI}}}correctResponse/{{{QTI}}}value")
        assert choices[correct] == question.options[question.answer_index]
        feedback = {f.get("identifier"): f.text for f in item.iter(f"{{{QTI}}}modalFeedback")}
        assert set(feedback) == {"CORRECT", "INCORRECT"}
        assert question.explanation in feedback["CORRECT"]
    test = _xml(archive, "assessment.xml")
    refs = [r.get("href") for r in test.iter(f"{{{QTI}}}assessmentItemRef")]
    assert refs == [r.get("href") for r in items]
    assert len(list(test.iter(f"{{{QTI}}}assessmentSection"))) == len(view.modules)


def test_model_text_is_xml_text_in_every_package() -> None:
    course = copy.deepcopy(stored_course_json()["course"])
    evil = '<script>alert(1)</script> & </prompt><x y="1"> \x07bell'
    course["title"] = evil
    course["modules"][0]["quiz"][0]["question"] = evil
    course["modules"][0]["quiz"][0]["options"][1] = evil
    view = CourseView.from_json(course)
    for fmt in ("scorm12", "scorm2004", "qti"):
        archive = _package(view, fmt)
        for name in archive.namelist():
            if name.endswith(".xml"):
                tree = _xml(archive, name)  # well-formed despite the markup and the control character
                assert not list(tree.iter("script", "{*}script", "{*}x"))
    item = _xml(_package(view, "qti"), "items/m1-q1.xml")
    assert item.findtext(f".//{{{QTI}}}prompt") == evil.replace("\x07", "")


def test_an_unknown_format_names_the_known_ones(view: CourseView) -> None:
    with pytest.raises(
        UnknownFormatError, match="unknown export format 'pdf': use one of scorm12, scorm2004, qti, html"
    ):
        export_course(view, "pdf")
    assert set(FORMATS) == {"scorm12", "scorm2004", "qti", "html"}
