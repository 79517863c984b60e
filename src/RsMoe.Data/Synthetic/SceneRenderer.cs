namespace RsMoe.Data.Synthetic;

/// <summary>Draws a planned scene top-down: textured ground, water and roads, then objects with shadows, then grain.</summary>
public static class SceneRenderer
{
    static readonly Dictionary<string, ((byte, byte, byte) Colour, double Cell, float Strength)> Grounds = new()
    {
        ["residential"] = ((105, 130, 80), 24, 0.35f), ["industrial"] = ((150, 148, 140), 30, 0.2f), ["airport"] = ((120, 140, 90), 40, 0.3f),
        ["harbor"] = ((155, 150, 140), 30, 0.2f), ["farmland"] = ((140, 115, 80), 30, 0.3f), ["river"] = ((95, 125, 70), 26, 0.4f),
        ["parking lot"] = ((85, 85, 88), 18, 0.15f), ["forest"] = ((45, 80, 45), 10, 0.7f), ["sports ground"] = ((100, 135, 80), 30, 0.3f),
    };

    public static readonly string[] ClassIds = ["", "building", "tree", "car", "plane", "ship", "storage tank", "swimming pool", "court", "field", "road", "river", "water"];

    public static Canvas Render(Scene scene, Random random)
    {
        int n = scene.Size;
        var canvas = new Canvas(n, random.Next());
        var ground = Grounds[scene.Theme];
        canvas.Fill(ground.Colour, ground.Cell * n / 256, ground.Strength);
        double sunDx = (random.NextDouble() - 0.5) * 2, sunDy = 0.6 + random.NextDouble() * 0.4;   // one light for every shadow

        foreach (var line in scene.Lines.OrderBy(l => l.Class == "road" ? 1 : 0))
            DrawLine(canvas, line, n);
        foreach (var group in scene.Groups.OrderBy(g => Layer(g.Class)))
        {
            long area = 0;
            foreach (var o in group.Objects) area += DrawObject(canvas, o, n, sunDx, sunDy, random);
            group.PixelArea = area;
        }
        canvas.Finish(random, 0.12f);
        for (int i = 0; i < canvas.ClassMap.Length; i++)
        {
            string cls = ClassIds[canvas.ClassMap[i]];
            if (cls.Length > 0) scene.ClassArea[cls] = scene.ClassArea.GetValueOrDefault(cls) + 1;
        }
        return canvas;
    }

    static int Layer(string cls) => cls switch { "field" => 0, "swimming pool" or "court" => 1, "building" or "storage tank" => 2, "tree" => 3, _ => 4 };

    static byte Id(string cls) => (byte)Array.IndexOf(ClassIds, cls);

    static void DrawLine(Canvas canvas, LinearFeature line, int n)
    {
        double x0 = line.X0 * n, y0 = line.Y0 * n, x1 = line.X1 * n, y1 = line.Y1 * n, half = line.Width * n / 2;
        double dx = x1 - x0, dy = y1 - y0, lengthSquared = dx * dx + dy * dy;
        bool Inside(double x, double y)
        {
            double t = Math.Clamp(((x - x0) * dx + (y - y0) * dy) / lengthSquared, 0, 1);
            double px = x0 + dx * t - x, py = y0 + dy * t - y;
            double wobble = line.Class == "road" ? 0 : 6 * Math.Sin(t * 9 + line.X0 * 7);   // rivers meander a little
            return Math.Sqrt(px * px + py * py) <= half + wobble;
        }
        var colour = line.Class == "road" ? ((byte)95, (byte)95, (byte)98) : ((byte)45, (byte)85, (byte)120);
        canvas.Paint(n / 2.0, n / 2.0, n, Inside, colour, line.Class == "road" ? 0.15f : 0.25f, Id(line.Class));
        if (line.Class == "road")
        {
            // Centre line dashes.
            for (double t = 0.02; t < 1; t += 0.06)
            {
                double cx = x0 + dx * t, cy = y0 + dy * t;
                canvas.Paint(cx, cy, 6, Canvas.Rectangle(cx, cy, n * 0.025, 1.2, Math.Atan2(dy, dx)), (220, 215, 190), 0, 0);
            }
        }
    }

    static long DrawObject(Canvas canvas, PlacedObject o, int n, double sunDx, double sunDy, Random random)
    {
        double cx = o.X * n, cy = o.Y * n, length = o.Length * n, width = o.Width * n, radius = Math.Max(length, width);
        var colour = Vocabulary.Rgb[o.Colour];
        byte id = Id(o.Class);
        switch (o.Class)
        {
            case "building":
            {
                var shape = Canvas.Rectangle(cx, cy, length, width, o.Angle);
                long area = canvas.Paint(cx, cy, radius, shape, colour, 0.15f, id, sunDx * 4, sunDy * 4, 0.45f);
                // A roof ridge gives depth.
                canvas.Paint(cx, cy, radius, Canvas.Rectangle(cx, cy, length * 0.9, Math.Max(1, width * 0.08), o.Angle), Shade(colour, 0.75f), 0, id);
                return area;
            }
            case "tree":
            {
                long area = canvas.Paint(cx, cy, radius, Canvas.Circle(cx, cy, length / 2), colour, 0.6f, id, sunDx * 3, sunDy * 3, 0.4f);
                canvas.Paint(cx - length * 0.12, cy - length * 0.12, radius, Canvas.Circle(cx - length * 0.12, cy - length * 0.12, length / 4), Shade(colour, 1.25f), 0.4f, id);
                return area;
            }
            case "car":
                return canvas.Paint(cx, cy, radius, Canvas.Rectangle(cx, cy, length, width, o.Angle), colour, 0.1f, id, sunDx, sunDy, 0.35f);
            case "plane":
            {
                var fuselage = Canvas.Rectangle(cx, cy, length, length * 0.14, o.Angle);
                var wings = Canvas.Rectangle(cx, cy, length * 0.2, length * 0.9, o.Angle);
                double tx = cx - Math.Cos(o.Angle) * length * 0.4, ty = cy - Math.Sin(o.Angle) * length * 0.4;
                var tail = Canvas.Rectangle(tx, ty, length * 0.1, length * 0.35, o.Angle);
                bool Shape(double x, double y) => fuselage(x, y) || wings(x, y) || tail(x, y);
                return canvas.Paint(cx, cy, radius, Shape, colour, 0.05f, id, sunDx * 3, sunDy * 3, 0.35f);
            }
            case "ship":
            {
                var hull = Canvas.Rectangle(cx, cy, length * 0.8, width, o.Angle);
                double bx = cx + Math.Cos(o.Angle) * length * 0.4, by = cy + Math.Sin(o.Angle) * length * 0.4;
                var bow = Canvas.Circle(bx, by, width / 2);
                bool Shape(double x, double y) => hull(x, y) || bow(x, y);
                long area = canvas.Paint(cx, cy, radius, Shape, colour, 0.1f, id, sunDx * 2, sunDy * 2, 0.3f);
                // A wake behind the ship.
                double wx = cx - Math.Cos(o.Angle) * length * 0.7, wy = cy - Math.Sin(o.Angle) * length * 0.7;
                canvas.Paint(wx, wy, radius, Canvas.Rectangle(wx, wy, length * 0.5, width * 0.5, o.Angle), (150, 180, 200), 0.3f, 0);
                return area;
            }
            case "storage tank":
            {
                long area = canvas.Paint(cx, cy, radius, Canvas.Circle(cx, cy, length / 2), colour, 0.05f, id, sunDx * 3, sunDy * 3, 0.45f);
                canvas.Paint(cx, cy, radius, (x, y) => Canvas.Circle(cx, cy, length / 2 * 0.8)(x, y) && !Canvas.Circle(cx, cy, length / 2 * 0.72)(x, y), Shade(colour, 0.7f), 0, id);
                return area;
            }
            case "swimming pool":
                return canvas.Paint(cx, cy, radius, Canvas.Rectangle(cx, cy, length, width, o.Angle), (70, 160, 210), 0.15f, id);
            case "court":
            {
                long area = canvas.Paint(cx, cy, radius, Canvas.Rectangle(cx, cy, length, width, o.Angle), colour, 0.05f, id);
                canvas.Paint(cx, cy, radius, (x, y) => Canvas.Rectangle(cx, cy, length * 0.9, width * 0.85, o.Angle)(x, y)
                    && !Canvas.Rectangle(cx, cy, length * 0.9 - 2, width * 0.85 - 2, o.Angle)(x, y), (235, 235, 235), 0, id);
                canvas.Paint(cx, cy, radius, Canvas.Rectangle(cx, cy, 1.2, width * 0.85, o.Angle), (235, 235, 235), 0, id);
                return area;
            }
            case "field":
            {
                var shape = Canvas.Rectangle(cx, cy, length, width, o.Angle);
                long area = canvas.Paint(cx, cy, radius, shape, colour, 0.3f, id);
                // Furrows.
                double c = Math.Cos(o.Angle), s = Math.Sin(o.Angle);
                canvas.Paint(cx, cy, radius, (x, y) => shape(x, y) && ((int)(((x - cx) * c + (y - cy) * s) / 3) % 2 == 0), Shade(colour, 0.85f), 0.2f, id);
                return area;
            }
            default:
                return 0;
        }
    }

    static (byte, byte, byte) Shade((byte R, byte G, byte B) c, float f) =>
        ((byte)Math.Clamp(c.R * f, 0, 255), (byte)Math.Clamp(c.G * f, 0, 255), (byte)Math.Clamp(c.B * f, 0, 255));
}
