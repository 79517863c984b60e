namespace RsMoe.Data.Synthetic;

/// <summary>Composes a scene for a theme: roads and water, object groups placed in regions, and the relations that hold.</summary>
public static class ScenePlanner
{
    static readonly Dictionary<string, (int Min, int Max)> Counts = new()
    {
        ["building"] = (1, 8), ["tree"] = (3, 14), ["car"] = (2, 12), ["plane"] = (1, 4), ["ship"] = (1, 5),
        ["storage tank"] = (1, 6), ["swimming pool"] = (1, 3), ["court"] = (1, 3), ["field"] = (1, 4),
    };

    public static Scene Plan(string id, string theme, int size, Random random)
    {
        var scene = new Scene { Id = id, Theme = theme, Size = size, Background = theme };
        AddLines(scene, random);
        var forbidden = new List<(double X, double Y, double R)>();
        foreach (var line in scene.Lines) forbidden.AddRange(Samples(line));

        foreach (var (cls, min, max) in Vocabulary.ThemeObjects[theme])
        {
            int groups = random.Next(min, max + 1);
            for (int g = 0; g < groups; g++)
            {
                var group = NewGroup(scene, cls, random);
                if (group is null) continue;
                Place(scene, group, random, forbidden);
                if (group.Count > 0) scene.Groups.Add(group);
            }
        }
        // Merge nothing: two groups of one class must differ in colour or region to be told apart in text.
        AddRelations(scene, random);
        return scene;
    }

    static void AddLines(Scene scene, Random random)
    {
        string direction = random.Pick(["north-south", "east-west", "diagonal"]);
        (double x0, double y0, double x1, double y1) Across(string d, double offset) => d switch
        {
            "north-south" => (offset, 0, offset + (random.NextDouble() - 0.5) * 0.1, 1),
            "east-west" => (0, offset, 1, offset + (random.NextDouble() - 0.5) * 0.1),
            _ => random.Next(2) == 0 ? (0, offset - 0.3, 1, offset + 0.3) : (0, offset + 0.3, 1, offset - 0.3),
        };
        switch (scene.Theme)
        {
            case "river":
            {
                var (x0, y0, x1, y1) = Across(direction, 0.35 + random.NextDouble() * 0.3);
                scene.Lines.Add(new LinearFeature("river", direction, x0, y0, x1, y1, 0.12 + random.NextDouble() * 0.08, "blue"));
                if (random.Next(2) == 0) AddRoad(scene, random, direction);
                break;
            }
            case "harbor":
            {
                // Water along one edge; ships go on it.
                var side = random.Next(4);
                var water = side switch
                {
                    0 => new LinearFeature("water", "north-south", 0.0, 0, 0.0, 1, 0.9, "blue"),
                    1 => new LinearFeature("water", "north-south", 1.0, 0, 1.0, 1, 0.9, "blue"),
                    2 => new LinearFeature("water", "east-west", 0, 0.0, 1, 0.0, 0.9, "blue"),
                    _ => new LinearFeature("water", "east-west", 0, 1.0, 1, 1.0, 0.9, "blue"),
                };
                scene.Lines.Add(water);
                break;
            }
            case "airport":
            {
                var (x0, y0, x1, y1) = Across(direction == "diagonal" ? "east-west" : direction, 0.4 + random.NextDouble() * 0.2);
                scene.Lines.Add(new LinearFeature("road", direction == "diagonal" ? "east-west" : direction, x0, y0, x1, y1, 0.09, "gray"));
                break;
            }
            case "parking lot":
                if (random.Next(3) == 0) AddRoad(scene, random, direction);
                break;
            default:
                if (random.Next(4) != 0) AddRoad(scene, random, direction);
                break;
        }
    }

    static void AddRoad(Scene scene, Random random, string direction)
    {
        double offset = 0.2 + random.NextDouble() * 0.6;
        var (x0, y0, x1, y1) = direction switch
        {
            "north-south" => (offset, 0.0, offset + (random.NextDouble() - 0.5) * 0.1, 1.0),
            "east-west" => (0.0, offset, 1.0, offset + (random.NextDouble() - 0.5) * 0.1),
            _ => random.Next(2) == 0 ? (0.0, offset - 0.3, 1.0, offset + 0.3) : (0.0, offset + 0.3, 1.0, offset - 0.3),
        };
        scene.Lines.Add(new LinearFeature("road", direction, x0, y0, x1, y1, 0.05 + random.NextDouble() * 0.03, "gray"));
    }

    static IEnumerable<(double X, double Y, double R)> Samples(LinearFeature line)
    {
        for (int i = 0; i <= 20; i++)
        {
            double t = i / 20.0;
            yield return (line.X0 + (line.X1 - line.X0) * t, line.Y0 + (line.Y1 - line.Y0) * t, line.Width / 2 + 0.01);
        }
    }

    static ObjectGroup? NewGroup(Scene scene, string cls, Random random)
    {
        var colours = Vocabulary.ClassColours[cls];
        for (int attempt = 0; attempt < 10; attempt++)
        {
            string colour = random.Pick(colours);
            int region = random.Next(9);
            if (cls == "ship")
            {
                var water = scene.Lines.FirstOrDefault(l => l.Class == "water");
                if (water is null) return null;
                region = WaterRegion(water, random);
            }
            if (scene.Groups.Any(g => g.Class == cls && (g.Colour == colour || g.Region == region))) continue;
            if (scene.Groups.Any(g => g.Region == region) && attempt < 6) continue;
            return new ObjectGroup { Class = cls, Colour = colour, Size = random.Pick(["small", "medium", "large"]), Region = region };
        }
        return null;
    }

    static int WaterRegion(LinearFeature water, Random random)
    {
        int edge = random.Next(3);
        if (water.Direction == "north-south") return water.X0 < 0.5 ? edge * 3 : edge * 3 + 2;
        return water.Y0 < 0.5 ? edge : 6 + edge;
    }

    static (double Length, double Width) Dimensions(string cls, string size, Random random)
    {
        double scale = size switch { "small" => 0.75, "large" => 1.35, _ => 1.0 };
        double j = 0.9 + random.NextDouble() * 0.2;
        return cls switch
        {
            "building" => (0.085 * scale * j, 0.085 * scale * j * (0.5 + random.NextDouble() * 0.4)),
            "tree" => (0.032 * scale * j, 0.032 * scale * j),
            "car" => (0.034 * j, 0.016 * j),
            "plane" => (0.12 * scale * j, 0.12 * scale * j),
            "ship" => (0.11 * scale * j, 0.028 * scale * j),
            "storage tank" => (0.06 * scale * j, 0.06 * scale * j),
            "swimming pool" => (0.05 * j, 0.03 * j),
            "court" => (0.11 * j, 0.06 * j),
            "field" => (0.24 * scale * j, 0.16 * scale * j),
            _ => (0.05, 0.05),
        };
    }

    static void Place(Scene scene, ObjectGroup group, Random random, List<(double X, double Y, double R)> occupied)
    {
        var (min, max) = Counts[group.Class];
        int wanted = random.Next(min, max + 1);
        var road = scene.Lines.FirstOrDefault(l => l.Class == "road");
        bool along = road is not null && group.Class is "tree" or "car" && random.Next(3) == 0;
        // Trees may ring another group instead ("the trees surround the buildings").
        var ringTarget = group.Class == "tree" && !along && random.Next(2) == 0
            ? scene.Groups.FirstOrDefault(g => g.Class is "building" or "storage tank" or "court" or "swimming pool" && g.Count > 0)
            : null;
        double ringRadius = ringTarget is null ? 0
            : ringTarget.Objects.Max(o => Math.Sqrt((o.X - ringTarget.Centroid.X) * (o.X - ringTarget.Centroid.X) + (o.Y - ringTarget.Centroid.Y) * (o.Y - ringTarget.Centroid.Y)) + o.Length / 2) + 0.05;
        if (ringTarget is not null) wanted = Math.Max(wanted, 6);
        var centre = Regions.Centre(group.Region);
        double angle = road is null ? random.NextDouble() * Math.PI : Math.Atan2((road.Y1 - road.Y0), (road.X1 - road.X0));
        if (group.Class is "plane" or "ship") angle = random.NextDouble() * Math.PI * 2;

        for (int placed = 0, tries = 0; placed < wanted && tries < wanted * 40; tries++)
        {
            var (length, width) = Dimensions(group.Class, group.Size, random);
            double x, y;
            if (ringTarget is not null)
            {
                double theta = 2 * Math.PI * (placed + random.NextDouble() * 0.5) / wanted;
                x = ringTarget.Centroid.X + Math.Cos(theta) * ringRadius;
                y = ringTarget.Centroid.Y + Math.Sin(theta) * ringRadius;
            }
            else if (along)
            {
                double t = random.NextDouble();
                double side = (random.Next(2) == 0 ? -1 : 1) * (road!.Width / 2 + length);
                double nx = -(road.Y1 - road.Y0), ny = road.X1 - road.X0, norm = Math.Sqrt(nx * nx + ny * ny);
                x = road.X0 + (road.X1 - road.X0) * t + nx / norm * side;
                y = road.Y0 + (road.Y1 - road.Y0) * t + ny / norm * side;
            }
            else
            {
                x = centre.X + (random.NextDouble() - 0.5) * 0.3;
                y = centre.Y + (random.NextDouble() - 0.5) * 0.3;
            }
            double radius = Math.Max(length, width) / 2;
            if (x - radius < 0.01 || y - radius < 0.01 || x + radius > 0.99 || y + radius > 0.99) continue;
            if (!along && ringTarget is null && Regions.Of(x, y) != group.Region) continue;
            bool inWater = scene.Lines.Any(l => l.Class is "water" or "river" && DistanceToLine(l, x, y) < l.Width / 2);
            if (group.Class == "ship" ? !inWater : inWater) continue;
            if (group.Class != "ship" && occupied.Any(o => (o.X - x) * (o.X - x) + (o.Y - y) * (o.Y - y) < (o.R + radius) * (o.R + radius))) continue;
            if (group.Class == "ship" && occupied.Any(o => (o.X - x) * (o.X - x) + (o.Y - y) * (o.Y - y) < (o.R + radius) * (o.R + radius) && o.R < 0.2)) continue;
            double objectAngle = group.Class is "tree" or "storage tank" ? 0 : angle + (group.Class is "plane" or "ship" ? random.NextDouble() * 0.3 : 0);
            group.Objects.Add(new PlacedObject(group.Class, group.Colour, x, y, length, width, objectAngle));
            occupied.Add((x, y, radius));
            placed++;
        }
        if (group.Count > 0) group.Region = Regions.Of(group.Centroid.X, group.Centroid.Y);
        if (along && group.Count > 0) scene.Relations.Add(new Relation("along", GroupKey(group), "road"));
        if (ringTarget is not null && group.Count >= 4) scene.Relations.Add(new Relation("surrounding", GroupKey(group), GroupKey(ringTarget)));
    }

    internal static double DistanceToLine(LinearFeature l, double x, double y)
    {
        double dx = l.X1 - l.X0, dy = l.Y1 - l.Y0;
        double t = Math.Clamp(((x - l.X0) * dx + (y - l.Y0) * dy) / (dx * dx + dy * dy), 0, 1);
        double px = l.X0 + dx * t - x, py = l.Y0 + dy * t - y;
        return Math.Sqrt(px * px + py * py);
    }

    public static string GroupKey(ObjectGroup g) => $"{g.Colour} {g.Class}";

    static void AddRelations(Scene scene, Random random)
    {
        var groups = scene.Groups.Where(g => g.Class != "field" || scene.Groups.Count(x => x.Class == "field") == 1).ToList();
        var pairs = new List<Relation>();
        for (int i = 0; i < groups.Count; i++)
            for (int j = 0; j < groups.Count; j++)
            {
                if (i == j || groups[i].Class == groups[j].Class) continue;
                var (ax, ay) = groups[i].Centroid;
                var (bx, by) = groups[j].Centroid;
                double dx = bx - ax, dy = by - ay, distance = Math.Sqrt(dx * dx + dy * dy);
                if (distance < 0.22) pairs.Add(new Relation("next to", GroupKey(groups[i]), GroupKey(groups[j])));
                else if (Math.Abs(dx) > Math.Abs(dy) * 1.5 && Math.Abs(dx) > 0.25) pairs.Add(new Relation(dx > 0 ? "left of" : "right of", GroupKey(groups[i]), GroupKey(groups[j])));
                else if (Math.Abs(dy) > Math.Abs(dx) * 1.5 && Math.Abs(dy) > 0.25) pairs.Add(new Relation(dy > 0 ? "above" : "below", GroupKey(groups[i]), GroupKey(groups[j])));
            }
        // Between: a group near the midpoint of two others.
        for (int i = 0; i < groups.Count; i++)
            for (int j = 0; j < groups.Count; j++)
                for (int k = j + 1; k < groups.Count; k++)
                {
                    if (i == j || i == k || groups[j].Class == groups[i].Class || groups[k].Class == groups[i].Class) continue;
                    var (ax, ay) = groups[j].Centroid;
                    var (cx, cy) = groups[k].Centroid;
                    var (bx, by) = groups[i].Centroid;
                    double mx = (ax + cx) / 2, my = (ay + cy) / 2, span = Math.Sqrt((cx - ax) * (cx - ax) + (cy - ay) * (cy - ay));
                    if (span > 0.35 && Math.Sqrt((bx - mx) * (bx - mx) + (by - my) * (by - my)) < span * 0.2)
                        pairs.Add(new Relation("between", GroupKey(groups[i]), GroupKey(groups[j]), GroupKey(groups[k])));
                }
        // Keep a few, without stating both directions of one pair.
        var seen = new HashSet<(string, string)>();
        foreach (var relation in pairs.OrderBy(_ => random.Next()))
        {
            if (scene.Relations.Count >= 4) break;
            if (!seen.Add((relation.Subject, relation.Object)) || !seen.Add((relation.Object, relation.Subject))) continue;
            scene.Relations.Add(relation);
        }
    }
}
