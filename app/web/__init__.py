"""What every page shares and no domain rule needs: the console's URLs (more of the web layer moves here
as issue 19's renovation goes on)."""
