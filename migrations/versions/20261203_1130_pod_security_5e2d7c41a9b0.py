"""project.pod_security, project.allow_external_ips: each project's Pod Security level (existing projects
move to baseline) and whether a platform admin allowed its Services external IPs (no: the default)

Revision ID: 5e2d7c41a9b0
Revises: 3c1f0a9e7b21
Create Date: 2026-12-03 11:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '5e2d7c41a9b0'
down_revision: Union[str, Sequence[str], None] = '3c1f0a9e7b21'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pod_security', sa.String(length=16), server_default='baseline', nullable=False))
        batch_op.add_column(sa.Column('allow_external_ips', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('allow_external_ips')
        batch_op.drop_column('pod_security')
