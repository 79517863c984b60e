namespace RsMoe.Data.Synthetic;

/// <summary>An RGB float canvas with the few drawing operations aerial scenes need, plus a class map for areas.</summary>
public sealed class Canvas
{
    public int Size { get; }
    public float[] R { get; }
    public float[] G { get; }
    public float[] B { get; }
    public byte[] ClassMap { get; }
    readonly int _noiseSeed;

    public Canvas(int size, int noiseSeed)
    {
        Size = size;
        R = new float[size * size];
        G = new float[size * size];
        B = new float[size * size];
        ClassMap = new byte[size * size];
        _noiseSeed = noiseSeed;
    }

    static uint Hash(int x, int y, int seed)
    {
        unchecked
        {
            uint h = (uint)(x * 374761393 + y * 668265263 + seed * 982451653);
            h = (h ^ (h >> 13)) * 1274126177;
            return h ^ (h >> 16);
        }
    }

    /// <summary>Smooth value noise in [0, 1] with the given cell size in pixels.</summary>
    public float Noise(double x, double y, double cell, int salt = 0)
    {
        double fx = x / cell, fy = y / cell;
        int x0 = (int)Math.Floor(fx), y0 = (int)Math.Floor(fy);
        double tx = fx - x0, ty = fy - y0;
        tx = tx * tx * (3 - 2 * tx);
        ty = ty * ty * (3 - 2 * ty);
        float V(int a, int b) => (Hash(a, b, _noiseSeed + salt) & 0xFFFF) / 65535f;
        double top = V(x0, y0) + (V(x0 + 1, y0) - V(x0, y0)) * tx;
        double bottom = V(x0, y0 + 1) + (V(x0 + 1, y0 + 1) - V(x0, y0 + 1)) * tx;
        return (float)(top + (bottom - top) * ty);
    }

    /// <summary>Fills the canvas with a textured colour: two octaves of noise modulate brightness.</summary>
    public void Fill((byte R, byte G, byte B) colour, double cell, float strength, int salt = 0)
    {
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                float n = 1 + strength * ((Noise(x, y, cell, salt) - 0.5f) + 0.5f * (Noise(x, y, cell / 4, salt + 7) - 0.5f));
                int i = y * Size + x;
                R[i] = colour.R * n;
                G[i] = colour.G * n;
                B[i] = colour.B * n;
            }
    }

    /// <summary>Paints every pixel the shape covers (inside(x, y) in pixel coordinates) within a bounding box.</summary>
    public long Paint(double cx, double cy, double radius, Func<double, double, bool> inside, (byte R, byte G, byte B) colour,
        float texture, byte classId, double shadowDx = 0, double shadowDy = 0, float shadow = 0)
    {
        if (shadow > 0)
            Paint(cx + shadowDx, cy + shadowDy, radius, (x, y) => inside(x - shadowDx, y - shadowDy), (0, 0, 0), 0, 0, multiply: 1 - shadow);
        return Paint(cx, cy, radius, inside, colour, texture, classId, multiply: 0);
    }

    long Paint(double cx, double cy, double radius, Func<double, double, bool> inside, (byte R, byte G, byte B) colour, float texture, byte classId, float multiply)
    {
        int x0 = Math.Max(0, (int)(cx - radius - 1)), x1 = Math.Min(Size - 1, (int)(cx + radius + 1));
        int y0 = Math.Max(0, (int)(cy - radius - 1)), y1 = Math.Min(Size - 1, (int)(cy + radius + 1));
        long painted = 0;
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                if (!inside(x + 0.5, y + 0.5)) continue;
                int i = y * Size + x;
                if (multiply > 0)
                {
                    R[i] *= multiply; G[i] *= multiply; B[i] *= multiply;
                    continue;
                }
                float n = 1 + texture * (Noise(x, y, 3, 11) - 0.5f);
                R[i] = colour.R * n;
                G[i] = colour.G * n;
                B[i] = colour.B * n;
                if (classId != 0) ClassMap[i] = classId;
                painted++;
            }
        return painted;
    }

    /// <summary>A rotated rectangle test in pixel coordinates.</summary>
    public static Func<double, double, bool> Rectangle(double cx, double cy, double length, double width, double angle)
    {
        double c = Math.Cos(angle), s = Math.Sin(angle);
        return (x, y) =>
        {
            double dx = x - cx, dy = y - cy;
            double u = dx * c + dy * s, v = -dx * s + dy * c;
            return Math.Abs(u) <= length / 2 && Math.Abs(v) <= width / 2;
        };
    }

    public static Func<double, double, bool> Circle(double cx, double cy, double radius) =>
        (x, y) => (x - cx) * (x - cx) + (y - cy) * (y - cy) <= radius * radius;

    /// <summary>Per-pixel grain and a global brightness/colour cast, so scenes do not look flat.</summary>
    public void Finish(Random random, float grain)
    {
        float gain = 0.9f + (float)random.NextDouble() * 0.2f;
        float castR = 1 + ((float)random.NextDouble() - 0.5f) * 0.08f, castB = 1 + ((float)random.NextDouble() - 0.5f) * 0.08f;
        for (int i = 0; i < R.Length; i++)
        {
            float g = 1 + grain * (((Hash(i, 17, _noiseSeed) & 0xFF) / 255f) - 0.5f);
            R[i] *= gain * castR * g;
            G[i] *= gain * g;
            B[i] *= gain * castB * g;
        }
    }

    public byte[] ToRgbBytes()
    {
        var bytes = new byte[R.Length * 3];
        for (int i = 0; i < R.Length; i++)
        {
            bytes[i * 3] = (byte)Math.Clamp(R[i], 0, 255);
            bytes[i * 3 + 1] = (byte)Math.Clamp(G[i], 0, 255);
            bytes[i * 3 + 2] = (byte)Math.Clamp(B[i], 0, 255);
        }
        return bytes;
    }
}
