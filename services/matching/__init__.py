"""The matching service: proposes matches between open needs and live offerings."""
