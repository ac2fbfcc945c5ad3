"""hub/kubernetes/: the Zero to JupyterHub values and the manifests agree with the chart they
were written for and with the course's hub on one machine.

Nothing here touches a cluster or the network: the YAML is parsed, checked against the
chart's own values schema (hub/kubernetes/chart-4.4.0/, with the chart's defaults merged in as
helm does), and compared with course/nbgrader_config.py, hub/hubctl.py and the
``python -m autograder`` command line. The pre-spawn hook in hub.extraConfig is run on
stand-in spawners."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
import yaml
from traitlets.config import Config, PyFileConfigLoader

from autograder.cli import COMMANDS, build_parser
from autograder.config import GradingConfig

ROOT = Path(__file__).resolve().parent.parent
KUBE = ROOT / "hub" / "kubernetes"
CHART = KUBE / "chart-4.4.0"
IMAGE_PREFIX = "/usr/local"  # sys.prefix of the python image the Dockerfile starts from


def _docs(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((KUBE / name).read_text()) if doc]


def _merge(base, override):
    """``override`` over ``base``, maps merged key by key (as helm merges values files)."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in override.items()}}
    return override


def _quantity(text) -> float:
    """A Kubernetes quantity ("512M", "5Gi", "0.25", "250m") as a plain number."""
    match = re.fullmatch(r"([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?", str(text))
    if not match:
        raise ValueError(f"a Kubernetes quantity such as 512M or 1Gi must be given (got {text!r})")
    scale = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[match.group(2)]
    return float(match.group(1)) * scale


def _py_config(text: str, tmp_path: Path, name: str) -> Config:
    (tmp_path / name).write_text(text)
    return PyFileConfigLoader(name, path=str(tmp_path)).load_config()


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((KUBE / "values.yaml").read_text())


@pytest.fixture(scope="module")
def course() -> dict:
    return yaml.safe_load((KUBE / "values.yaml").read_text())["custom"]["course"]


@pytest.fixture(scope="module")
def course_config() -> Config:
    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "course")).load_config()


@pytest.fixture(scope="module")
def feedback() -> dict:
    [deployment] = [d for d in _docs("feedback.yaml") if d["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def claims() -> dict:
    return {d["metadata"]["name"]: d["spec"] for d in _docs("volumes.yaml")
            if d["kind"] == "PersistentVolumeClaim"}


def _mounts(pod_spec: dict, container: str) -> dict[str, str]:
    """claim name -> mount path in ``container`` of a pod spec."""
    claim_of = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod_spec["volumes"]}
    [spec] = [c for c in pod_spec["containers"] if c["name"] == container]
    return {claim_of[m["name"]]: m["mountPath"] for m in spec["volumeMounts"]}


def test_values_satisfy_the_chart_schema(values):
    """values.yaml over the chart's defaults is valid under chart 4.4.0's values schema."""
    schema = yaml.safe_load((CHART / "values.schema.yaml").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(_merge(defaults, values))]
    assert not errors, "values.yaml must be valid for chart 4.4.0 (got errors):\n" + \
        "\n".join(errors)


def test_the_schema_check_catches_a_misspelt_key(values):
    """A misspelt key under singleuser fails the schema check, so the check above can fail."""
    schema = yaml.safe_load((CHART / "values.schema.yaml").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    wrong = _merge(values, {"singleuser": {"memroy": {"limit": "1G"}}})
    assert list(jsonschema.Draft7Validator(schema).iter_errors(_merge(defaults, wrong)))


def test_exchange_is_one_shared_volume_at_the_course_exchange_root(values, course, claims,
                                                                   feedback, course_config):
    """Every user pod and the feedback service mount one ReadWriteMany claim at c.Exchange.root."""
    root = course_config.Exchange.root
    storage = values["singleuser"]["storage"]
    claim_of = {v["name"]: v["persistentVolumeClaim"]["claimName"]
                for v in storage["extraVolumes"]}
    user_mounts = {claim_of[m["name"]]: m["mountPath"] for m in storage["extraVolumeMounts"]}
    exchange = course["exchangeClaim"]
    assert user_mounts.get(exchange) == root, \
        f"user pods must mount {exchange} at c.Exchange.root {root} (got {user_mounts})"
    assert _mounts(feedback, "feedback").get(exchange) == root
    assert claims[exchange]["accessModes"] == ["ReadWriteMany"]
    assert course["courseClaim"] not in user_mounts, "students' pods must not mount the course"


def test_users_nbgrader_config_names_the_course_and_exchange(values, course, course_config,
                                                            tmp_path):
    """The nbgrader config of every user pod has the course's course_id and exchange root."""
    files = values["singleuser"]["extraFiles"]
    assert files["nbgrader-config"]["mountPath"] == f"{IMAGE_PREFIX}/etc/jupyter/nbgrader_config.py"
    users = _py_config(files["nbgrader-config"]["stringData"], tmp_path, "nbgrader_config.py")
    assert users.Exchange.root == course_config.Exchange.root
    assert users.CourseDirectory.course_id == course_config.CourseDirectory.course_id \
        == course["id"]
    instructor = files["instructor-nbgrader-config"]
    assert instructor["mountPath"] == f"{course['instructorConfigPath']}/nbgrader_config.py"
    config = _py_config(instructor["stringData"], tmp_path, "instructor_config.py")
    assert config.CourseDirectory.root == f"{course['courseMountPath']}/course"


def test_lab_hides_hubctls_instructor_tools_for_students_only(values, course):
    """The disabled extensions are hub/hubctl.py's INSTRUCTOR_LAB and INSTRUCTOR_SERVER,
    turned off at sys-prefix level and on again on the instructors' config path."""
    spec = importlib.util.spec_from_file_location("hubctl", ROOT / "hub" / "hubctl.py")
    hubctl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubctl)
    files = values["singleuser"]["extraFiles"]
    for who, where, hidden in [("student", f"{IMAGE_PREFIX}/etc/jupyter", True),
                               ("instructor", course["instructorConfigPath"], False)]:
        page, server = files[f"{who}-page-config"], files[f"{who}-server-config"]
        assert page["mountPath"] == f"{where}/labconfig/page_config.json"
        assert page["data"]["disabledExtensions"] == {n: hidden for n in hubctl.INSTRUCTOR_LAB}
        assert server["mountPath"] == f"{where}/jupyter_server_config.json"
        assert server["data"]["ServerApp"]["jpserver_extensions"] == \
            {n: not hidden for n in hubctl.INSTRUCTOR_SERVER}


def test_feedback_service_runs_a_real_autograder_command(values, course, feedback,
                                                         course_config):
    """The feedback Deployment runs `python -m autograder serve-feedback` with arguments its
    parser accepts, on the course volume and the exchange root, and the hub registers it."""
    [container] = feedback["containers"]
    command = container["command"]
    assert command[:3] == ["python", "-m", "autograder"], command
    assert command[3] in COMMANDS, f"{command[3]!r} must be an autograder command"
    assert command[3] == "serve-feedback"
    args = build_parser().parse_args(command[3:])
    assert str(args.exchange_root) == course_config.Exchange.root
    assert str(args.course_dir) == container["workingDir"] == f"{course['courseMountPath']}/course"
    assert _mounts(feedback, "feedback")[course["courseClaim"]] == course["courseMountPath"]
    assert container["securityContext"]["runAsUser"] == course["instructorUid"]
    assert feedback["automountServiceAccountToken"] is False
    assert "feedback" in values["hub"]["services"]


def test_feedback_service_memory_holds_a_grading_task(feedback):
    """The service's memory limit exceeds c.Grading.memory_mb and equals its request."""
    [container] = feedback["containers"]
    resources = container["resources"]
    cap = GradingConfig.read(ROOT / "course").memory_mb * 2**20
    assert _quantity(resources["limits"]["memory"]) > cap
    assert resources["requests"]["memory"] == resources["limits"]["memory"]


def test_student_limits_are_at_least_their_guarantees(values):
    """Per-student memory and CPU limits are set and not below their guarantees."""
    for resource in ("memory", "cpu"):
        given = values["singleuser"][resource]
        assert _quantity(given["limit"]) >= _quantity(given["guarantee"]) > 0, \
            f"singleuser.{resource}: limit must be >= guarantee > 0 (got {given})"


def test_one_image_everywhere(values, feedback):
    """User pods, the feedback service and its init container run the same image, built on
    the official python image (whose sys.prefix, /usr/local, the extra files assume)."""
    image = values["singleuser"]["image"]
    name = f"{image['name']}:{image['tag']}"
    for container in feedback["containers"] + feedback["initContainers"]:
        assert container["image"] == name
    dockerfile = (KUBE / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.M)
    assert base.startswith("python:"), f"the image must start FROM python:... (got {base})"
    assert "COPY hub/kubernetes/entrypoint.sh" in dockerfile
    assert (KUBE / "entrypoint.sh").stat().st_mode & 0o111, "entrypoint.sh must be executable"


def test_prespawn_hook_gives_uids_and_the_course_to_instructors_only(values, course):
    """hub.extraConfig: instructors run as instructorUid with the course volume and their
    config path; each student runs as a uid of their own and gets neither."""
    config = Config()
    config.Authenticator.admin_users = set(values["hub"]["config"]["Authenticator"]
                                           ["admin_users"])
    namespace = {"c": config, "get_config": lambda key: values["custom"]["course"]
                 if key == "custom.course" else None}
    exec(values["hub"]["extraConfig"]["minigrad-users.py"], namespace)
    uid, hook = config.KubeSpawner.uid, config.KubeSpawner.pre_spawn_hook

    def spawner(name, user_id):
        return SimpleNamespace(user=SimpleNamespace(name=name, id=user_id),
                               environment={"A": "1"}, volumes={"home": {}},
                               volume_mounts={"home": {}})

    teacher, one, two = spawner("instructor", 1), spawner("student1", 2), spawner("student2", 3)
    assert uid(teacher) == course["instructorUid"]
    assert {uid(one), uid(two)} == {course["studentUidBase"] + 2, course["studentUidBase"] + 3}
    for each in (teacher, one, two):
        hook(each)
    assert teacher.environment == {"A": "1",
                                   "JUPYTER_CONFIG_PATH": course["instructorConfigPath"]}
    assert teacher.volumes["course"]["persistentVolumeClaim"]["claimName"] == \
        course["courseClaim"]
    assert teacher.volume_mounts["course"]["mountPath"] == course["courseMountPath"]
    assert one.environment == {"A": "1"} and set(one.volumes) == {"home"}
    assert set(one.volume_mounts) == {"home"}
