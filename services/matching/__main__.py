"""python -m services.matching"""

from kit.service import run_service
from services.matching.app import build
from services.matching.settings import MatchingSettings

if __name__ == "__main__":
    run_service(MatchingSettings, build)
