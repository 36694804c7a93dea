"""python -m services.intake"""

from kit.service import run_service
from services.intake.app import build
from services.intake.settings import IntakeSettings

if __name__ == "__main__":
    run_service(IntakeSettings, build)
