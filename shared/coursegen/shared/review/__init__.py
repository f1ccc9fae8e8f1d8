"""People in the loop: outline approval, review rounds, versions, claim checks, learners, audit."""
