"""Morphable-model files the model manager knows: the Basel Face Model as 3DDFA_V2 ships it, the Surrey Face
Model as eos ships it, and the ICT Face Model Light's neutral mesh and first identity components."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfvsdk.errors import ModelFileError
from tfvsdk.models import Artefact, ArtefactFile
from tfvsdk.morphable import load_numpy_pickle

TDDFA_COMMIT = "1b6c67601abffc1e9f248b291708aef0e43b55ae"
TDDFA_URL = f"https://github.com/cleardusk/3DDFA_V2/raw/{TDDFA_COMMIT}/configs"
BFM_FILE = "bfm_noneck_v3.pkl"
TRIANGLES_FILE = "tri.pkl"


def _check_bfm(path: Path) -> None:
    data = load_numpy_pickle(path)
    missing = {"u", "w_shp", "w_exp", "keypoints"} - set(data if isinstance(data, dict) else ())
    if missing:
        raise ModelFileError(f"{path}: not 3DDFA_V2's BFM pickle (missing {sorted(missing)})")


def _check_triangles(path: Path) -> None:
    tri = np.asarray(load_numpy_pickle(path))
    if tri.ndim != 2 or 3 not in tri.shape:
        raise ModelFileError(f"{path}: expected a (3, T) or (T, 3) triangle array, got shape {tri.shape}")


BFM = Artefact(
    name="bfm",
    files=(
        ArtefactFile(BFM_FILE, f"{TDDFA_URL}/{BFM_FILE}", None, None, _check_bfm),
        ArtefactFile(
            TRIANGLES_FILE,
            f"{TDDFA_URL}/{TRIANGLES_FILE}",
            "0562a594d8369f7d1c86306522ff76fd3a2c81cf90ba9443893c1191ad0abbb8",
            913040,
            _check_triangles,
        ),
    ),
    licence="Basel Face Model licence (BFM 2009; 3DDFA_V2: 'only for academic use')",
    licence_url="https://faces.dmi.unibas.ch/bfm/?nav=1-0&id=basel_face_model",
    commercial_use=False,
    accept_licence=True,
    needed_by=("model bfm", "reconstructor 3ddfa-v2 (dense shape; without it: pose initialiser only)"),
    description="the Basel Face Model 2009 without neck, 38,365 vertices, 40 shape + 10 expression components (3DDFA_V2)",
    source="cleardusk/3DDFA_V2",
)


EOS_COMMIT = "ce984207a51c2edd2e7568a64fec9b98ef61aeed"
EOS_URL = f"https://github.com/patrikhuber/eos/raw/{EOS_COMMIT}/share"
SFM_FILES = {
    "shape": ("sfm_shape_3448.bin", "43750338ae533e7fb981e924b6f67ebde3d292f15ec4fc886ae5af14308ad980", 2784392),
    "blendshapes": ("expression_blendshapes_3448.bin", "a77c81712fc5e8b08a1be4cd2824d51514e5bde6578109ae5240dfb3489efd43", 248400),
    "mappings": ("ibug_to_sfm.txt", "810810c457184526c7d54305ecbc5da764e2431b5e66025d921a7d424aebfac9", 3166),
    "contours": ("sfm_model_contours.json", "c9e69bfa995ab19ac6b27abb07729eb0520a00bb192be12426ca6bce76f3fded", 679),
    "symmetry": ("sfm_reference_symmetry.txt", "d26e02dbb2cf72bfa88bc6bf6f175bf261bae7aff00509cc0ff277675f2fff47", 3447),
}


def _check_shape_model(path: Path) -> None:
    from tfvsdk.morphable.eos_files import read_eos_shape_model

    read_eos_shape_model(path)


def _check_blendshapes(path: Path) -> None:
    from tfvsdk.morphable.eos_files import read_eos_blendshapes

    read_eos_blendshapes(path)


_CHECKS = {"shape": _check_shape_model, "blendshapes": _check_blendshapes}

SFM = Artefact(
    name="sfm",
    files=tuple(ArtefactFile(f, f"{EOS_URL}/{f}", sha, size, _CHECKS.get(role)) for role, (f, sha, size) in SFM_FILES.items()),
    licence="Surrey Face Model licence (free for non-commercial use)",
    licence_url=f"https://github.com/patrikhuber/eos/blob/{EOS_COMMIT}/README.md#license--contributions",
    commercial_use=False,
    accept_licence=True,
    needed_by=("model sfm (converted from eos' files at load)",),
    description="the Surrey Face Model, 3,448 vertices, 63 identity components + 6 expression blendshapes (eos share/)",
    source="patrikhuber/eos",
)


ICT_COMMIT = "da5f95a607f5e6b37755b38d3385d7f2853732e5"
ICT_URL = f"https://github.com/ICT-VGL/ICT-FaceKit/raw/{ICT_COMMIT}/FaceXModel"
ICT_IDENTITIES = 40
"""How many of ICT's 100 identity components the artefact holds (the first ones; see docs/models.md)."""
ICT_FILES = (
    ("generic_neutral_mesh.obj", "eedbc2576d8e5ea57f55255b8f98263213a1efb5431d8bfceed1d7aef10271f9", 2555599),
    ("identity000.obj", "918160cf82d541336b4c367cf93199c9827832bde02511b8fbdf9019d6f1a773", 2559425),
    ("identity001.obj", "325115059deb6691cb2d55da07ae38bb08ce36e4ea146982f294a17513155b3b", 2558978),
    ("identity002.obj", "e140e8305cd5232def3b94331d08450a13f312e525130fca8eeaa653231decc3", 2559778),
    ("identity003.obj", "be3481a6bed8953a6d9dd7f811a04bc6d2ab94d1bd76ecfaa6d4cae87a450f9d", 2559601),
    ("identity004.obj", "a2f411cc763e881cff250eb23c04fe8375b63a05a7dfa0492422e3b943e8a01d", 2559142),
    ("identity005.obj", "274178eb33e33c555e6024535a51a62ee50050abd4f7014bbc7a4dc90a638c65", 2559787),
    ("identity006.obj", "c9ae0426ab88b49065c852148f7bcff8cb09253fbee068b78955bd76c19a3e0f", 2559268),
    ("identity007.obj", "ba38037151277b94e2b6b9b9800275d92d2c0aa8d61057b0718c9d7b90fffc44", 2559156),
    ("identity008.obj", "b03543b783a15c1d28c5a384cd93657eda915227756780f682bc7370cd94ce1d", 2559269),
    ("identity009.obj", "0cbb5ca5db9c61fa91df8d1c04b9b383b40d797032ca3f5a28a234d495e31b54", 2558646),
    ("identity010.obj", "7bd1c31b76428cfb4bf29a2ac38bc2711d8c254aec25bba7ebd7a9b7dc81ebc7", 2559280),
    ("identity011.obj", "68684bafa7e460ce7dd69c618a260143e6ecfa1254d0d49ec40202092a4b05f3", 2559530),
    ("identity012.obj", "b899f17f8727b903b36f9a879ec95427c4df93d415956a211745bf44ed2be2dd", 2559442),
    ("identity013.obj", "57a17eb9945a21c0a869dca4401964742c8d47e512d680fef94447aff826abc3", 2559747),
    ("identity014.obj", "8a1a490f6e695c9116b820a95137823282415fb20bb0362725bedf0a1c2d8bd3", 2559520),
    ("identity015.obj", "9f3da084848efabf5b898f72d3006db7442497a560185483358a8d4aefb8ac2d", 2559388),
    ("identity016.obj", "184d17ffd35e7796777bf6008e0f904810e3781b46b37f37f9a550f1969c2525", 2559604),
    ("identity017.obj", "5b55b7a104f561d5df44a9d0249f21bcf80890dd59666d777c2db9eccd128759", 2559398),
    ("identity018.obj", "8ae8dd9cb5c7173f49643974420261f10f0437a7636531a50c2ae9a2badaf9a3", 2559320),
    ("identity019.obj", "a22d531cddb3a0aaed12e6feddf45993f73545253d35642300dc4eca6438117a", 2559500),
    ("identity020.obj", "3cabf614779ef2e625dfd4323a8db70a174e80e20aa083cd4cd3310503a66f1d", 2558496),
    ("identity021.obj", "9ab18156977d76b6651868c68ddf5e3da529678606c9cc451cefe1bbc29cd4e5", 2559513),
    ("identity022.obj", "6d6d1fb2c7af1d8bf14b65c2f60aa3312b3c6ad5c5315218559f3f9dd16f4f73", 2559136),
    ("identity023.obj", "8b0e809b2b07c36eefaf5a4e6be9efed0ac0e3a8d1cc84130f112e12b188b457", 2559425),
    ("identity024.obj", "23f6b0c1ffa4395aae606a199aa29be6b10800e46fd05c804b5a79fd87f718ff", 2559557),
    ("identity025.obj", "93089be89ad88e7fe701dad51b07ecfa7eddfa81afaf13e27976bf97cc43a000", 2558955),
    ("identity026.obj", "66c02f3e68e7e298b5e0938003df67a804bf0b153342acaa9ec19e63a7043896", 2559520),
    ("identity027.obj", "d652ae8402706cd0eafa78b3745dea8435c496ca8585fe7300718e992b8fe690", 2559452),
    ("identity028.obj", "9857adc057878d3d6f54a058e373a4ce471f77ccd49497008e2700c9d89e3d98", 2558839),
    ("identity029.obj", "cf5c15dcf37e3d8973be8c86696894d1a8f902ba80cca28d3fda5cff87a70f09", 2559532),
    ("identity030.obj", "ed70813c94cbbbf57b417016c760f2da44406da63d2b4bbbf8eb55711478c75c", 2559442),
    ("identity031.obj", "c45f199b1e6dca582513863acb625ed1e2b61b5646098cc29d042db071e57ef2", 2559664),
    ("identity032.obj", "b15d9d537ac8bf0408f321dc16fdd825fb1f52eb771e0d5201f75c02c94301c6", 2559436),
    ("identity033.obj", "3dec9b7de7830d43eb7e7239469c07b0d02a7a61614565ae880182411a3931fb", 2558789),
    ("identity034.obj", "bdef7f09c2bd200e026eeaceec519683033d6967ec831e0f32a1d1fcadd47ae1", 2559442),
    ("identity035.obj", "f3ada8ae8bc42a604835d3752d6ac7d30d71652ea459560f9b8e528ae1e611df", 2559549),
    ("identity036.obj", "e18ae8cfc06d376584f9b12fc2dd6535f3784c37128b66ae49ec0bdc53babfa6", 2559401),
    ("identity037.obj", "e2a78ab5ea24dc03a2369e86086afca681373e7a33e84490a63749f54aae8f5f", 2558790),
    ("identity038.obj", "37080e0e0aef74921514d4fe6e4d9054fd49b317ab328bfed9ecf4452c8d39ab", 2559709),
    ("identity039.obj", "bc1e7dc17ea65e0acd7cec7a54c4fb16fbd1a15982c5eda853d4a409850da3b5", 2559527),
)


def _check_obj(path: Path) -> None:
    from tfvsdk.morphable.ict_files import FACE_VERTICES, read_obj

    read_obj(path, FACE_VERTICES)


ICT = Artefact(
    name="ict",
    files=tuple(ArtefactFile(f, f"{ICT_URL}/{f}", sha, size, _check_obj) for f, sha, size in ICT_FILES),
    licence="MIT",
    licence_url=f"https://github.com/ICT-VGL/ICT-FaceKit/blob/{ICT_COMMIT}/LICENSE",
    commercial_use=True,
    needed_by=("model ict",),
    description=f"ICT Face Model Light: neutral mesh and the first {ICT_IDENTITIES} of 100 identity components (OBJ, ~105 MB)",
    source="ICT-VGL/ICT-FaceKit",
)
