"""submissions: the double-submit guard shared by every console process

Revision ID: 3c1f0a9e7b21
Revises: 8d5b972f72a2
Create Date: 2026-12-02 20:40:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '3c1f0a9e7b21'
down_revision: Union[str, Sequence[str], None] = '8d5b972f72a2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'submission',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('done', sa.Boolean(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_submission')),
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_at'))
    op.drop_table('submission')
