-- A counter bumped by every change to the rows behind the reconciler's two large snapshot
-- queries (Q1 presets, Q3 running prebuilds). Read in the same transaction as the queries,
-- it tells a reconciler whether the rows it read last cycle are still exactly current, so a
-- settled cycle need not read 20,000 prebuilds again (SPEC §12). The bump runs in the
-- writer's own transaction: a snapshot and its generation always agree.
CREATE TABLE prebuilds_data_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
) STRICT;
INSERT INTO prebuilds_data_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER organizations_insert_bumps_prebuilds_generation AFTER INSERT ON organizations
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER organizations_update_bumps_prebuilds_generation AFTER UPDATE ON organizations
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER organizations_delete_bumps_prebuilds_generation AFTER DELETE ON organizations
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER templates_insert_bumps_prebuilds_generation AFTER INSERT ON templates
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER templates_update_bumps_prebuilds_generation AFTER UPDATE ON templates
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER templates_delete_bumps_prebuilds_generation AFTER DELETE ON templates
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER template_versions_insert_bumps_prebuilds_generation AFTER INSERT ON template_versions
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER template_versions_update_bumps_prebuilds_generation AFTER UPDATE ON template_versions
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER template_versions_delete_bumps_prebuilds_generation AFTER DELETE ON template_versions
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER template_version_presets_insert_bumps_prebuilds_generation AFTER INSERT ON template_version_presets
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER template_version_presets_update_bumps_prebuilds_generation AFTER UPDATE ON template_version_presets
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER template_version_presets_delete_bumps_prebuilds_generation AFTER DELETE ON template_version_presets
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspaces_insert_bumps_prebuilds_generation AFTER INSERT ON workspaces
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspaces_update_bumps_prebuilds_generation AFTER UPDATE ON workspaces
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspaces_delete_bumps_prebuilds_generation AFTER DELETE ON workspaces
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_builds_insert_bumps_prebuilds_generation AFTER INSERT ON workspace_builds
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_builds_update_bumps_prebuilds_generation AFTER UPDATE ON workspace_builds
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_builds_delete_bumps_prebuilds_generation AFTER DELETE ON workspace_builds
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER provisioner_jobs_insert_bumps_prebuilds_generation AFTER INSERT ON provisioner_jobs
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER provisioner_jobs_update_bumps_prebuilds_generation AFTER UPDATE ON provisioner_jobs
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER provisioner_jobs_delete_bumps_prebuilds_generation AFTER DELETE ON provisioner_jobs
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_resources_insert_bumps_prebuilds_generation AFTER INSERT ON workspace_resources
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_resources_update_bumps_prebuilds_generation AFTER UPDATE ON workspace_resources
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_resources_delete_bumps_prebuilds_generation AFTER DELETE ON workspace_resources
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_agents_insert_bumps_prebuilds_generation AFTER INSERT ON workspace_agents
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_agents_update_bumps_prebuilds_generation AFTER UPDATE ON workspace_agents
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_agents_delete_bumps_prebuilds_generation AFTER DELETE ON workspace_agents
BEGIN UPDATE prebuilds_data_generation SET generation = generation + 1 WHERE id = 1; END;
